"""`python -m localdev az`: the real Azure CLI signs in to the emulator and gets tokens for the API."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jwt
import pytest

from localdev import azure_cli
from tests.azure_cli.conftest import LocalAz
from tests.emulator_process import AZURE_CLI, DIRECTORY, EmulatorProcess
from tests.processes import ROOT

API = "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api"


def claims(token: str) -> dict:
    return jwt.decode(token.strip(), options={"verify_signature": False})


def test_alice_signs_in_and_gets_a_developer_token_for_the_api(local_az: LocalAz, az_emulator: EmulatorProcess) -> None:
    local_az.login("alice")
    account = json.loads(local_az("account", "show").stdout)
    assert account["user"] == {"name": az_emulator.user("alice")["userPrincipalName"], "type": "user"}
    assert account["tenantId"] == az_emulator.tenant
    assert account["environmentName"] == azure_cli.CLOUD
    token = claims(local_az.token(API).stdout)
    # What a developer's token looks like: the Azure CLI as client, the user's roles, 1 h, v1 issuer.
    assert token["aud"] == API
    assert token["iss"] == f"https://sts.windows.net/{az_emulator.tenant}/"
    assert token["appid"] == AZURE_CLI
    assert token["appidacr"] == "0"
    assert token["amr"] == ["pwd"]
    assert token["upn"] == az_emulator.user("alice")["userPrincipalName"]
    assert token["roles"] == ["notification.read"]
    scopes = {s["value"] for s in az_emulator.directory["applications"]["notification-api"]["scopes"]}
    assert set(token["scp"].split()) == scopes  # .default: what the Azure CLI is pre-authorized for
    assert token["exp"] - token["iat"] < 2 * 3600  # no 24-hour lifetime for developer tokens
    # The person's own ~/.azure is never used: everything is in the config folder.
    assert (local_az.config_dir / "msal_token_cache.json").exists()


def test_carol_gets_her_groups_roles_and_bob_is_refused(local_az: LocalAz) -> None:
    local_az.login("carol")
    assert claims(local_az.token(API).stdout)["roles"] == ["notification.create", "notification.read"]
    local_az.login("bob")  # signing in to the CLI (ARM) needs no assignment...
    refused = local_az.token(API, check=False)  # ...but the API requires one
    assert refused.returncode != 0
    assert "AADSTS50105" in refused.stderr


def test_a_role_assigned_shows_at_the_next_sign_in(local_az: LocalAz, az_emulator: EmulatorProcess) -> None:
    local_az.login("alice")
    assert claims(local_az.token(API).stdout)["roles"] == ["notification.read"]
    subprocess.run(
        [sys.executable, "-m", "emulator", "--state-dir", str(az_emulator.state_dir), "assign", "--principal", "alice",
         "--resource", "notification-api", "--role", "notification.create"],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    # az keeps the token it has (up to 1 h); a fresh sign-in gets a new one at once: no 24 h cache.
    assert claims(local_az.token(API).stdout)["roles"] == ["notification.read"]
    local_az.login("alice")
    assert claims(local_az.token(API).stdout)["roles"] == ["notification.create", "notification.read"]


def test_a_person_enters_the_code_on_the_emulators_page(local_az: LocalAz, az_emulator: EmulatorProcess) -> None:
    command = [sys.executable, "-m", "localdev", "az", "--state-dir", str(az_emulator.state_dir)]
    command += ["--config-dir", str(local_az.config_dir), "login"]
    process = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert process.stderr is not None  # stderr=PIPE
    try:
        found = None
        for line in process.stderr:
            found = re.search(r"open the page (\S+) and enter the code (\S+)", line)
            if found:
                break
        assert found, "az login never printed the device code"
        page, code = found.groups()
        assert page == f"{az_emulator.origin}/devicelogin"
        carol = az_emulator.user("carol")
        answer = az_emulator.session.post(
            page, data={"user_code": code, "username": carol["userPrincipalName"], "password": carol["password"]}
        )
        assert "signed in to Microsoft Azure CLI" in answer.text
        assert process.wait(timeout=120) == 0
    finally:
        process.kill()
    assert json.loads(local_az("account", "show").stdout)["user"]["name"] == carol["userPrincipalName"]


def test_the_azure_cli_consent_lock_down(local_az: LocalAz, az_emulator: EmulatorProcess) -> None:
    """A locked-down tenant: the API no longer pre-authorizes the Azure CLI, so az gets AADSTS65001."""
    api = az_emulator.directory["applications"]["notification-api"]
    scopes = next(p["scopes"] for p in api["preAuthorizedApplications"] if p["appId"] == AZURE_CLI)
    local_az.login("carol")
    grant = {"clientAppId": AZURE_CLI, "resource": "notification-api"}
    az_emulator.admin("DELETE", "pre-authorizations", json=grant)
    refused = local_az.token(API, check=False)
    assert refused.returncode != 0
    assert "AADSTS65001" in refused.stderr
    az_emulator.admin("POST", "pre-authorizations", json={**grant, "scopes": scopes})
    # No 60 s replay of the 400 (AZURE_CORE_USE_MSAL_HTTP_CACHE=false): the fix shows at once.
    assert claims(local_az.token(API).stdout)["roles"] == ["notification.create", "notification.read"]


def test_sign_ins_survive_an_emulator_restart(az_emulator: EmulatorProcess, tmp_path: Path) -> None:
    """az keeps only a refresh token between calls: the emulator keeps its refresh tokens in the state folder."""
    state = tmp_path / "state"
    first = EmulatorProcess(state, DIRECTORY, "--device-code-interval", "1", share_tls_with=az_emulator)
    try:
        local_az = LocalAz(first, tmp_path / "azure-cli")
        local_az.login("alice")
    finally:
        first.stop()
    again = EmulatorProcess(state, DIRECTORY, "--port", str(first.port), share_tls_with=az_emulator)
    try:
        local_az.emulator = again
        assert claims(local_az.token(API).stdout)["upn"] == again.user("alice")["userPrincipalName"]
    finally:
        again.stop()


def test_missing_az_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(azure_cli, "PROJECT_AZ", tmp_path / "no-az")
    with pytest.raises(azure_cli.AzureCliError, match=r"make az.*never a requirement of the apps"):
        azure_cli.find_az()


def test_every_az_call_keeps_the_managed_identity_endpoint_and_stays_local(az_emulator: EmulatorProcess) -> None:
    emulator = az_emulator
    env = azure_cli.az_environment(emulator.env, Path("cfg"), base={"https_proxy": "http://proxy.example:3128"})
    assert env["IDENTITY_ENDPOINT"] == emulator.env["IDENTITY_ENDPOINT"]
    assert env["IDENTITY_HEADER"] == emulator.env["IDENTITY_HEADER"]
    assert env["HTTPS_PROXY"] == azure_cli.NOWHERE
    assert "https_proxy" not in env
    assert env["AZURE_CORE_INSTANCE_DISCOVERY"] == env["AZURE_CORE_USE_MSAL_HTTP_CACHE"] == "false"
    assert env["AZURE_CONFIG_DIR"] == str(Path("cfg").resolve())


FRESH_DEVELOPER_TOKEN = """
from outbound import build_credential, credential_tokens
tokens = credential_tokens(build_credential(), "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/.default")
print(tokens(False))
print(tokens(True))  # what the bearer client asks for after a 401
"""


def test_a_fresh_developer_token_after_a_401_needs_no_claims_challenge(
    local_az: LocalAz, az_emulator: EmulatorProcess, az: str
) -> None:
    """AzureCliCredential refuses claims challenges: the one 401 retry must still get a token as alice."""
    local_az.login("alice")
    env = azure_cli.az_environment(az_emulator.env, local_az.config_dir)
    env["AZURE_TOKEN_CREDENTIALS"] = "dev"
    env["PATH"] = f"{Path(az).parent}{os.pathsep}{env['PATH']}"
    result = subprocess.run(
        [sys.executable, "-c", FRESH_DEVELOPER_TOKEN], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    cached, fresh = result.stdout.split()
    assert claims(fresh)["upn"] == az_emulator.user("alice")["userPrincipalName"]
    assert claims(fresh)["aud"] == API
