"""infra/deploy.sh, run for real against a stand-in ``az`` (tests/infra/fake_az.py) on PATH.

The stand-in answers like ARM and Graph do, with their real error texts: outputs whose names lost
their case, Graph's replication errors before a retry succeeds, a Flex app failing its health check
after the upload. No network, no Azure.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.fake_az import ERRORS, UNHEALTHY
from tests.processes import ROOT

APPS = ["func-api-t1-abc123", "func-caller-t1-abc123", "func-obo-t1-abc123"]
SCRIPT = ROOT / "infra" / "deploy.sh"
# Another bash to run the script with, e.g. one built from bash 3.2's source (what macOS ships).
BASH = os.environ.get("DEPLOY_SH_BASH", "bash")


@pytest.fixture
def az(tmp_path: Path):
    """Run deploy.sh with the fake az first on PATH; returns (run, calls)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "az"
    fake.write_text(f"#!{sys.executable}\n" + (Path(__file__).parent / "fake_az.py").read_text())
    fake.chmod(0o755)
    log = tmp_path / "az-calls.jsonl"

    def run(
        *args: str, scenario: str = "ok", existing: str = "", cwd: Path = ROOT, script: str | None = None, **env: str
    ) -> subprocess.CompletedProcess:
        environment = {
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "FAKE_AZ_LOG": str(log),
            "FAKE_AZ_SCENARIO": scenario,
            "FAKE_AZ_EXISTING": existing,
            "DEPLOY_RETRY_WAIT": "0",
            **env,
        }
        return subprocess.run(
            [BASH, script or str(SCRIPT), *args],
            env=environment,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def calls(prefix: tuple[str, ...] = ()) -> list[dict]:
        if not log.exists():
            return []
        entries = [json.loads(line) for line in log.read_text().splitlines()]
        return [e for e in entries if tuple(e["argv"][: len(prefix)]) == prefix]

    return run, calls


CREATE = ("deployment", "group", "create")
ZIP = ("functionapp", "deployment", "source", "config-zip")


def zipped_apps(calls) -> list[str]:
    return [c["argv"][c["argv"].index("--name") + 1] for c in calls(ZIP)]


def secret_arguments(call: dict) -> list[str]:
    return [a for a in call["argv"] if a.startswith("webhookSecret=")]


def test_deploy_sh_reads_outputs_case_insensitively(az) -> None:
    # ARM: output names may come back as apI_APP_NAME; deploy.sh used to fail with KeyError and
    # then call config-zip with an empty --name.
    run, calls = az
    result = run("rg-t1", "westeurope", "t1")
    assert result.returncode == 0, result.stderr
    assert zipped_apps(calls) == APPS
    assert "https://func-api-t1-abc123.azurewebsites.net/api" in result.stdout
    assert "api://tenant/notification-api-t1-abc123" in result.stdout


@pytest.mark.parametrize("kind", ["reference-property", "reference-update", "principal-not-found"])
def test_every_replication_error_is_retried_after_a_wait(az, kind: str) -> None:
    # Graph on a first deployment: "... does not exist or one of its queried reference-property
    # objects are not present", and for a role given to a just-created managed identity "Not a
    # valid reference update" (msgraph-bicep-types #193: a second run succeeds).
    run, calls = az
    result = run("rg-t1", "westeurope", "t1", scenario=f"once:{kind}")
    assert result.returncode == 0, result.stderr
    assert len(calls(CREATE)) == 2
    assert "waiting 0 s, then deploying again (attempt 2 of 4)" in result.stderr
    assert zipped_apps(calls) == APPS


def test_replication_retries_are_bounded(az) -> None:
    run, calls = az
    result = run("rg-t1", "westeurope", "t1", scenario="always:reference-update", DEPLOY_ATTEMPTS="3")
    assert result.returncode != 0
    assert len(calls(CREATE)) == 3  # three attempts, not a loop
    assert "after 3 attempts" in result.stderr
    assert calls(ZIP) == []


@pytest.mark.parametrize("kind", ["quota", "unique-name", "preauthorization", "vault-deleted"])
def test_no_other_failure_is_retried(az, kind: str) -> None:
    run, calls = az
    result = run("rg-t1", "westeurope", "t1", scenario=f"once:{kind}")
    assert result.returncode == 1
    assert ERRORS[kind].removeprefix("ERROR: ")[:60] in result.stderr  # Azure's own words reach the user
    assert len(calls(CREATE)) == 1
    assert calls(ZIP) == []
    assert "no code was deployed" in result.stderr


def test_a_redeployment_blocked_by_deleted_items_says_what_to_delete(az) -> None:
    run, _ = az
    names = run("rg-t1", "westeurope", "t1", scenario="always:unique-name")
    assert "deleted items: delete it permanently" in names.stderr
    vault = run("rg-t1", "westeurope", "t1", scenario="always:vault-deleted")
    assert "purge it" in vault.stderr


def test_the_package_reaches_all_three_apps_with_remote_build(az) -> None:
    run, calls = az
    assert run("rg-t1", "westeurope", "t1").returncode == 0
    zips = calls(ZIP)
    assert zipped_apps(calls) == APPS
    for call in zips:
        assert call["argv"][call["argv"].index("--build-remote") + 1] == "true"
        assert call["argv"][call["argv"].index("--resource-group") + 1] == "rg-t1"
        assert {"function_app.py", "host.json", "requirements.txt", "auth"} <= set(call["zip"])
        assert not {"emulator", "tests", "directory.json", ".azure"} & set(call["zip"])
    assert not (ROOT / "dist").exists() or not any((ROOT / "dist").iterdir())  # the zip lives in a temp dir


def test_an_unhealthy_app_does_not_stop_the_others(az) -> None:
    # Azure CLI 2.91 on Flex, after the upload: "Deployment was successful but the app appears to be
    # unhealthy. Please check the app logs." (exit 1). A stop there left two apps on old code.
    run, calls = az
    result = run("rg-t1", "westeurope", "t1", FAKE_AZ_UNHEALTHY="func-api-t1-abc123")
    assert zipped_apps(calls) == APPS  # the caller and the proxy got the code too
    assert result.returncode == 1
    assert UNHEALTHY in result.stderr
    assert re.search(r"func-api-t1-abc123 +FAILED: deployed, but the app is unhealthy", result.stdout)
    assert re.search(r"func-caller-t1-abc123 +deployed", result.stdout)
    assert re.search(r"func-obo-t1-abc123 +deployed", result.stdout)
    assert "did not reach every app healthy: func-api-t1-abc123" in result.stderr
    assert "func-caller-t1-abc123" not in result.stderr.split("did not reach every app healthy")[1]


def test_a_missing_output_stops_before_any_code_is_deployed(az) -> None:
    run, calls = az
    result = run("rg-t1", "westeurope", "t1", FAKE_AZ_DROP_OUTPUT="proxY_APP_NAME")
    assert result.returncode != 0
    assert "the deployment has no output PROXY_APP_NAME" in result.stderr
    assert calls(ZIP) == []


def test_a_new_webhook_secret_only_when_the_vault_has_none(az) -> None:
    # A newGuid() default gave the secret a new value (and version) on every deployment.
    run, calls = az
    result = run("rg-t1", "westeurope", "t1")
    assert result.returncode == 0
    (first,) = secret_arguments(calls(CREATE)[0])
    assert len(first) > len("webhookSecret=") + 30
    assert first.split("=", 1)[1] not in result.stdout + result.stderr  # never printed
    assert run("rg-t1", "westeurope", "t1", existing="all").returncode == 0
    assert secret_arguments(calls(CREATE)[1]) == ["webhookSecret="]  # leave the vault's secret as it is


@pytest.mark.parametrize("tagged", ["1", "0"])
def test_a_failed_earlier_run_never_rotates_the_secret(az, tagged: str) -> None:
    # The last deployment failed halfway: it has no outputs, yet it created the vault and the secret
    # the webhook receiver already uses. The vault is found by its tag or, untagged, by its name.
    run, calls = az
    result = run("rg-t1", "westeurope", "t1", existing="vault", FAKE_AZ_VAULT_TAGGED=tagged)
    assert result.returncode == 0, result.stderr
    assert secret_arguments(calls(CREATE)[0]) == ["webhookSecret="]
    (secret_lookup,) = calls(("resource", "show"))
    assert "vaults/kvt1abc123" in secret_lookup["argv"]
    assert calls(("deployment", "group", "show")) == []  # the outputs of the last run play no part


def test_a_secret_lookup_that_fails_stops_before_anything_changes(az) -> None:
    # Not knowing is not "absent": a new secret would overwrite the one the receiver uses.
    run, calls = az
    result = run("rg-t1", "westeurope", "t1", existing="vault", FAKE_AZ_FORBIDDEN="1")
    assert result.returncode == 1
    assert "AuthorizationFailed" in result.stderr
    assert "could not tell whether kvt1abc123 holds webhook-signing-key" in result.stderr
    assert calls(CREATE) == []
    assert calls(("group", "create")) == []


def test_an_empty_group_gets_a_new_secret(az) -> None:
    run, calls = az
    assert run("rg-t1", "westeurope", "t1", existing="group").returncode == 0
    (secret,) = secret_arguments(calls(CREATE)[0])
    assert secret != "webhookSecret="
    assert calls(("resource", "show")) == []  # another environment's vault is not ours


def test_a_webhook_secret_you_pass_is_the_only_one(az) -> None:
    run, calls = az
    assert run("rg-t1", "westeurope", "t1", "webhookSecret=rotated-by-me", existing="all").returncode == 0
    assert secret_arguments(calls(CREATE)[0]) == ["webhookSecret=rotated-by-me"]
    assert calls(("keyvault", "list")) == []


def test_what_if_previews_and_changes_nothing(az) -> None:
    run, calls = az
    result = run("--what-if", "rg-t1", "westeurope", "t1", "hosting=premium", existing="all")
    assert result.returncode == 0, result.stderr
    (what_if,) = calls(("deployment", "group", "what-if"))
    argv = what_if["argv"]
    assert argv[argv.index("--resource-group") + 1] == "rg-t1"
    assert argv[argv.index("--template-file") + 1] == "infra/main.bicep"
    assert "environmentName=t1" in argv
    assert "hosting=premium" in argv
    assert "webhookSecret=" in argv
    assert "Microsoft Graph) are not in this list" in result.stderr  # what-if does not show Entra's side
    assert calls(CREATE) == []
    assert calls(ZIP) == []
    assert calls(("group", "create")) == []


def test_what_if_for_a_new_group(az) -> None:
    run, calls = az
    result = run("--what-if", "rg-new", "westeurope", "t1")
    assert result.returncode == 0
    assert "does not exist: a deployment would create it" in result.stderr
    assert calls(CREATE) == []


@pytest.mark.parametrize("name", ["x", "thirteen-char", "with_under", "sp ace"])
def test_an_invalid_environment_name_stops_before_anything(az, name: str) -> None:
    run, calls = az
    result = run("rg-t1", "westeurope", name)
    assert result.returncode == 1
    assert "2 to 12 letters, digits or hyphens" in result.stderr
    assert calls() == []


def test_usage_from_any_working_directory(az, tmp_path: Path) -> None:
    # The script changes to the repository root first; its usage text used to be read through the
    # relative $0 afterwards, which then named a file that was not there.
    run, calls = az
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    relative = os.path.relpath(SCRIPT, elsewhere)
    for cwd, script in ((ROOT, "infra/deploy.sh"), (elsewhere, relative), (elsewhere, str(SCRIPT))):
        result = run("rg-only", cwd=cwd, script=script)
        assert result.returncode == 2, (cwd, script, result.stderr)
        assert "infra/deploy.sh [--what-if] <resource-group> <location> <environment-name>" in result.stdout
        assert result.stderr == ""
    assert calls() == []


def test_deploys_from_another_working_directory(az, tmp_path: Path) -> None:
    run, calls = az
    result = run("rg-t1", "westeurope", "t1", cwd=tmp_path, script=os.path.relpath(SCRIPT, tmp_path))
    assert result.returncode == 0, result.stderr
    assert zipped_apps(calls) == APPS


# -- bash 3.2 (macOS) ----------------------------------------------------------------------------
# No package registry ships bash 3.2, and bash 5.2 has no compatibility level that brings back 3.2's
# `set -u` rule: CI holds the script to the idioms that are safe there. With a bash 3.2 built from
# its source, DEPLOY_SH_BASH=/path/to/bash runs every test above with it.

BASH4_ONLY = {
    "declare -A": "associative arrays (bash 4)",
    "local -A": "associative arrays (bash 4)",
    "mapfile": "bash 4",
    "readarray": "bash 4",
    "coproc": "bash 4",
    "|&": "bash 4",
    "&>>": "bash 4",
    ",,}": "case conversion (bash 4)",
    "^^}": "case conversion (bash 4)",
    "[[ -v": "bash 4.2",
    "local -n": "namerefs (bash 4.3)",
    "declare -n": "namerefs (bash 4.3)",
}


def script_lines() -> list[str]:
    return [line for line in SCRIPT.read_text().splitlines() if not line.lstrip().startswith("#")]


def test_deploy_sh_uses_no_bash4_feature() -> None:
    for line in script_lines():
        for idiom, why in BASH4_ONLY.items():
            assert idiom not in line, f"{why}: {line.strip()}"


def test_deploy_sh_expands_no_possibly_empty_list_unguarded() -> None:
    # bash 3.2 with `set -u`: "${empty[@]}" and "$@" without arguments are "unbound variable".
    # "$@" only as ${1+"$@"}; an array only if it is never empty (params starts with one element).
    text = "\n".join(script_lines())
    assert re.search(r"^set -euo pipefail$", text, re.M)
    assert not re.search(r'(?<!\$\{1\+)"\$[@*]"', text), 'use ${1+"$@"}'
    arrays = set(re.findall(r'"\$\{(\w+)\[[@*]\]\}"', text))
    assert arrays == {"params"}, arrays
    assert re.search(r'^params=\("environmentName=\$environment"\)$', text, re.M)  # never empty
    assert re.findall(r"^\s*(\w+)=\(", text, re.M) == ["params"]  # the only array


def test_deploy_sh_parses_and_is_executable() -> None:
    assert os.access(SCRIPT, os.X_OK)
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True, timeout=30)
