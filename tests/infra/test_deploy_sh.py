"""infra/deploy.sh, run for real against a stand-in ``az`` (tests/infra/fake_az.py) on PATH.

The stand-in answers like ARM does on a first deployment: outputs whose names lost their case, and
Graph's replication error before the retry succeeds. No network, no Azure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import ROOT

APPS = ["func-api-t1-abc123", "func-caller-t1-abc123", "func-obo-t1-abc123"]


@pytest.fixture
def az(tmp_path: Path):
    """Run deploy.sh with the fake az first on PATH; returns (run, calls)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "az"
    fake.write_text(f"#!{sys.executable}\n" + (Path(__file__).parent / "fake_az.py").read_text())
    fake.chmod(0o755)
    log = tmp_path / "az-calls.jsonl"

    def run(*args: str, scenario: str = "ok", existing: bool = False) -> subprocess.CompletedProcess:
        env = {
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "FAKE_AZ_LOG": str(log),
            "FAKE_AZ_SCENARIO": scenario,
            "FAKE_AZ_EXISTING": "1" if existing else "0",
            "DEPLOY_RETRY_WAIT": "0",
        }
        return subprocess.run(
            ["bash", str(ROOT / "infra" / "deploy.sh"), *args], env=env, capture_output=True, text=True, timeout=120
        )

    def calls(prefix: tuple[str, ...] = ()) -> list[dict]:
        if not log.exists():
            return []
        entries = [json.loads(line) for line in log.read_text().splitlines()]
        return [e for e in entries if tuple(e["argv"][: len(prefix)]) == prefix]

    return run, calls


CREATE = ("deployment", "group", "create")
ZIP = ("functionapp", "deployment", "source", "config-zip")


def test_deploy_sh_reads_outputs_case_insensitively(az) -> None:
    # ARM: output names may come back as apI_APP_NAME; deploy.sh used to fail with KeyError and
    # then call config-zip with an empty --name.
    run, calls = az
    result = run("rg-t1", "westeurope", "t1")
    assert result.returncode == 0, result.stderr
    names = [c["argv"][c["argv"].index("--name") + 1] for c in calls(ZIP)]
    assert names == APPS
    assert "https://func-api-t1-abc123.azurewebsites.net/api" in result.stdout
    assert "api://tenant/notification-api-t1" in result.stdout


def test_first_deployment_retries_once_after_graph_replication_error(az) -> None:
    # Graph, on a first deployment: "Resource '<id>' does not exist or one of its queried
    # reference-property objects are not present." A second run succeeds.
    run, calls = az
    result = run("rg-t1", "westeurope", "t1", scenario="replication-once")
    assert result.returncode == 0, result.stderr
    assert len(calls(CREATE)) == 2
    assert "deploying once more" in result.stderr
    assert len(calls(ZIP)) == 3


def test_the_package_reaches_all_three_apps_with_remote_build(az) -> None:
    run, calls = az
    assert run("rg-t1", "westeurope", "t1").returncode == 0
    zips = calls(ZIP)
    assert [c["argv"][c["argv"].index("--name") + 1] for c in zips] == APPS
    for call in zips:
        assert call["argv"][call["argv"].index("--build-remote") + 1] == "true"
        assert call["argv"][call["argv"].index("--resource-group") + 1] == "rg-t1"
        assert {"function_app.py", "host.json", "requirements.txt", "auth"} <= set(call["zip"])
        assert not {"emulator", "tests", "directory.json"} & set(call["zip"])
    assert not (ROOT / "dist").exists() or not any((ROOT / "dist").iterdir())  # the zip lives in a temp dir


def test_the_retry_happens_once_and_only_for_replication(az) -> None:
    run, calls = az
    failing = run("rg-t1", "westeurope", "t1", scenario="replication-always")
    assert failing.returncode != 0
    assert len(calls(CREATE)) == 2  # one retry, not a loop
    assert calls(ZIP) == []
    other = run("rg-t2", "westeurope", "t2", scenario="quota")
    assert other.returncode != 0
    assert "SubscriptionIsOverQuotaForSku" in other.stderr
    assert len(calls(CREATE)) == 3  # the quota failure was not retried


def test_a_new_webhook_secret_only_on_the_first_deployment(az) -> None:
    # A newGuid() default gave the secret a new value (and version) on every deployment.
    run, calls = az
    result = run("rg-t1", "westeurope", "t1")
    assert result.returncode == 0
    first = [a for a in calls(CREATE)[0]["argv"] if a.startswith("webhookSecret=")]
    assert len(first) == 1
    assert len(first[0]) > len("webhookSecret=") + 30
    assert first[0].split("=", 1)[1] not in result.stdout + result.stderr  # never printed
    assert run("rg-t1", "westeurope", "t1", existing=True).returncode == 0
    again = [a for a in calls(CREATE)[1]["argv"] if a.startswith("webhookSecret=")]
    assert again == ["webhookSecret="]  # leave the vault's secret as it is


def test_a_webhook_secret_you_pass_is_the_only_one(az) -> None:
    run, calls = az
    assert run("rg-t1", "westeurope", "t1", "webhookSecret=rotated-by-me").returncode == 0
    argv = calls(CREATE)[0]["argv"]
    assert [a for a in argv if a.startswith("webhookSecret=")] == ["webhookSecret=rotated-by-me"]


def test_what_if_previews_and_changes_nothing(az) -> None:
    run, calls = az
    result = run("--what-if", "rg-t1", "westeurope", "t1", "hosting=premium")
    assert result.returncode == 0, result.stderr
    (what_if,) = calls(("deployment", "group", "what-if"))
    argv = what_if["argv"]
    assert argv[argv.index("--resource-group") + 1] == "rg-t1"
    assert argv[argv.index("--template-file") + 1] == "infra/main.bicep"
    assert "environmentName=t1" in argv
    assert "hosting=premium" in argv
    assert calls(CREATE) == []
    assert calls(ZIP) == []
    assert calls(("group", "create")) == []


def test_usage_without_arguments(az) -> None:
    run, calls = az
    result = run("rg-only")
    assert result.returncode == 2
    assert "infra/deploy.sh [--what-if] <resource-group> <location> <environment-name>" in result.stdout
    assert calls() == []
