"""`python -m localdev settings`: a local.settings.json for a plain `func start`, never clobbering yours."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

from localdev.stack import DEV_ACCOUNT
from tests.processes import ROOT

EMULATOR_ENV = {
    "AZURE_TENANT_ID": "7812c330-acf6-4d59-acac-aae48e763f41",
    "AZURE_AUTHORITY_HOST": "https://localhost:8444",
    "IDENTITY_ENDPOINT": "https://localhost:8444/msi/token",
    "IDENTITY_HEADER": "header-from-the-emulator",
    "REQUESTS_CA_BUNDLE": "/abs/state/ca-bundle.pem",
    "SSL_CERT_FILE": "/abs/state/ca-bundle.pem",
    "KEY_VAULT_URL": "https://localhost:8444/",
}


def settings(tmp_path: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    (state / "env").write_text("".join(f"{k}={v}\n" for k, v in EMULATOR_ENV.items()))
    return subprocess.run(
        [sys.executable, "-m", "localdev", "settings", "--state-dir", str(state), "--output", "out.json", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **(env or {})},
    )


def written(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "out.json").read_text())


def test_values_come_from_the_sample_the_emulator_and_the_ports(tmp_path: Path) -> None:
    result = settings(tmp_path, "--port", "7072", "--storage-port", "10010")
    assert result.returncode == 0, result.stderr
    document = written(tmp_path)
    sample = json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]
    values = document["Values"]
    assert set(sample) <= set(values)
    assert {k: values[k] for k in EMULATOR_ENV} == EMULATOR_ENV  # no "copy IDENTITY_HEADER from ..." left
    assert values["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert values["NOTIFICATION_API_URL"] == "http://localhost:7072/api"
    assert f"TableEndpoint=http://127.0.0.1:10012/{DEV_ACCOUNT}" in values["NotificationStorage"]
    assert values["AzureWebJobsStorage"] == values["NotificationStorage"]
    assert document["Host"]["LocalHttpPort"] == 7072
    assert stat.S_IMODE((tmp_path / "out.json").stat().st_mode) == 0o600


def test_default_ports_use_development_storage(tmp_path: Path) -> None:
    assert settings(tmp_path).returncode == 0
    assert written(tmp_path)["Values"]["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"


def test_an_existing_file_is_kept_without_force(tmp_path: Path) -> None:
    (tmp_path / "out.json").write_text('{"Values": {"MY_SETTING": "mine"}}')
    result = settings(tmp_path)
    assert result.returncode == 2
    assert "--force" in result.stderr
    assert written(tmp_path) == {"Values": {"MY_SETTING": "mine"}}


def test_force_updates_what_localdev_owns_and_keeps_what_you_added(tmp_path: Path) -> None:
    (tmp_path / "out.json").write_text(
        json.dumps(
            {
                "Values": {"MY_SETTING": "mine", "DEBUG_ENDPOINTS": "false", "IDENTITY_HEADER": "stale"},
                "Host": {"CORS": "*"},
                "ConnectionStrings": {},
            }
        )
    )
    assert settings(tmp_path, "--force").returncode == 0
    document = written(tmp_path)
    assert document["Values"]["MY_SETTING"] == "mine"
    assert document["Values"]["DEBUG_ENDPOINTS"] == "false"
    assert document["Values"]["IDENTITY_HEADER"] == "header-from-the-emulator"
    assert document["Host"] == {"CORS": "*", "LocalHttpPort": 7071}
    assert "ConnectionStrings" in document


def test_a_shell_variable_func_would_keep_is_named(tmp_path: Path) -> None:
    result = settings(tmp_path, env={"REQUESTS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt"})
    assert result.returncode == 0
    assert "REQUESTS_CA_BUNDLE" in result.stdout
    assert "unset REQUESTS_CA_BUNDLE" in result.stdout


def test_without_a_running_emulator_it_says_what_to_start(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "localdev", "settings", "--state-dir", str(tmp_path / "none"), "--output", "x.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 2
    assert "python -m emulator" in result.stderr
    assert not (tmp_path / "x.json").exists()


def test_port_zero_is_refused(tmp_path: Path) -> None:
    # The file must name the port func start listens on and callers use: "any free port" names none.
    result = settings(tmp_path, "--port", "0")
    assert result.returncode == 2
    assert "port" in result.stderr


def test_force_over_a_copied_sample_leaves_a_private_file(tmp_path: Path) -> None:
    """`cp local.settings.sample.json local.settings.json` makes a 0644 file; IDENTITY_HEADER then goes in."""
    target = tmp_path / "out.json"
    target.write_text((ROOT / "local.settings.sample.json").read_text())
    target.chmod(0o644)
    assert settings(tmp_path, "--force").returncode == 0
    assert written(tmp_path)["Values"]["IDENTITY_HEADER"] == "header-from-the-emulator"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
