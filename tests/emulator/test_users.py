"""User sign-in through the Azure CLI's client id: password grant, MSAL auth code + PKCE, refresh.

MSAL's own username/password call cannot reach the emulator: before ROPC it asks
``https://{hostname}/common/userrealm/...`` with the port dropped (msal 1.39 ``Authority.instance``
is the bare hostname), i.e. port 443. The password grant is therefore sent as a plain form
here, exactly what MSAL would send after that lookup, and MSAL is exercised through the
authorization code flow and its refresh-token path.
"""

from __future__ import annotations

import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import msal
import pytest

from tests.emulator_process import AZURE_CLI, ROOT, EmulatorProcess

API = "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/.default"
PROXY = "api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/access_as_user"


@pytest.fixture
def cli_app(emulator: EmulatorProcess) -> msal.PublicClientApplication:
    return msal.PublicClientApplication(AZURE_CLI, authority=emulator.authority, instance_discovery=False)


def sign_in(emulator: EmulatorProcess, user: str, scopes: list[str], password: str | None = None) -> dict:
    login = emulator.user(user) if user in emulator.directory["users"] else {"userPrincipalName": user}
    return emulator.token_request(
        grant_type="password",
        client_id=AZURE_CLI,
        client_info="1",
        username=login["userPrincipalName"],
        password=password or login["password"],
        scope=" ".join([*scopes, "openid", "profile", "offline_access"]),
    ).json()


def test_user_token_for_a_v1_api_carries_scopes_and_the_users_roles(emulator, verify) -> None:
    result = sign_in(emulator, "alice", [API])
    assert "access_token" in result, result
    claims = verify(result["access_token"])
    alice = emulator.user("alice")
    assert claims["aud"] == "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api"
    assert claims["ver"] == "1.0"
    assert claims["appid"] == AZURE_CLI
    assert claims["appidacr"] == "0"
    assert "idtyp" not in claims  # your API gets it only by configuring the optional claim
    assert claims["oid"] == alice["id"]
    assert claims["upn"] == alice["userPrincipalName"]
    assert claims["name"] == alice["displayName"]
    # .default: every scope the Azure CLI is pre-authorized for; roles: what alice holds.
    assert claims["scp"] == "Notifications.Create Notifications.Read"
    assert claims["roles"] == ["notification.read"]
    assert {"refresh_token", "id_token", "client_info"} <= result.keys()


def test_user_token_for_a_v2_api(emulator, verify) -> None:
    claims = verify(sign_in(emulator, "bob", [PROXY])["access_token"])
    assert claims["aud"] == emulator.app_id("obo-proxy")
    assert claims["ver"] == "2.0"
    assert claims["iss"] == f"{emulator.authority}/v2.0"
    assert claims["azp"] == AZURE_CLI
    assert claims["scp"] == "access_as_user"
    assert claims["preferred_username"] == emulator.user("bob")["userPrincipalName"]
    assert "roles" not in claims


def test_roles_reach_a_user_through_a_group(emulator, verify) -> None:
    claims = verify(sign_in(emulator, "carol", [API])["access_token"])
    assert claims["roles"] == ["notification.create", "notification.read"]


def test_unassigned_user_is_aadsts50105(emulator) -> None:
    result = sign_in(emulator, "bob", [API])
    assert result["error"] == "invalid_grant"
    assert 50105 in result["error_codes"]


def test_wrong_password_and_unknown_user(emulator) -> None:
    assert 50126 in sign_in(emulator, "alice", [API], password="nope")["error_codes"]
    assert 50034 in sign_in(emulator, "mallory@contoso.onmicrosoft.com", [API], password="x")["error_codes"]


def test_unknown_scope_is_aadsts70011(emulator) -> None:
    result = sign_in(
        emulator, "alice", ["api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/notification.delete"]
    )
    assert result["error"] == "invalid_scope"
    assert 70011 in result["error_codes"]


def test_explicit_scope_is_granted_as_asked(emulator, verify) -> None:
    result = sign_in(
        emulator, "alice", ["api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/Notifications.Read"]
    )
    assert verify(result["access_token"])["scp"] == "Notifications.Read"


def test_a_role_value_is_not_a_scope(emulator) -> None:
    # Roles and scopes have distinct values; asking for the role's value as a scope is asking for nothing.
    result = sign_in(
        emulator, "alice", ["api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/notification.read"]
    )
    assert result["error"] == "invalid_scope"
    assert 70011 in result["error_codes"]


def test_refresh_token_reaches_another_resource(cli_app, emulator, verify) -> None:
    flow = cli_app.initiate_auth_code_flow([PROXY], redirect_uri="http://localhost:8400")
    assert "access_token" in cli_app.acquire_token_by_auth_code_flow(
        flow, _browser_sign_in(emulator, flow["auth_uri"], "alice")
    )
    account = cli_app.get_accounts()[0]
    result = cli_app.acquire_token_silent([API], account=account)
    assert result
    assert "access_token" in result
    assert verify(result["access_token"])["aud"] == "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api"
    assert emulator.stats()["grant:refresh_token"] == 1


def _browser_sign_in(emulator: EmulatorProcess, auth_uri: str, user: str) -> dict:
    """What a person does in the browser: open the page, submit the form, follow the redirect."""
    page = emulator.session.get(auth_uri)
    assert page.status_code == 200
    assert "<form" in page.text
    login = emulator.user(user)
    response = emulator.session.post(
        auth_uri, data={"username": login["userPrincipalName"], "password": login["password"]}, allow_redirects=False
    )
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert location.hostname == "localhost"
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def test_authorization_code_with_pkce(cli_app, emulator, verify) -> None:
    flow = cli_app.initiate_auth_code_flow([PROXY], redirect_uri="http://localhost:8400")
    auth_response = _browser_sign_in(emulator, flow["auth_uri"], "alice")
    result = cli_app.acquire_token_by_auth_code_flow(flow, auth_response)
    assert "access_token" in result, result
    assert verify(result["access_token"])["scp"] == "access_as_user"
    assert result["id_token_claims"]["preferred_username"] == emulator.user("alice")["userPrincipalName"]


def test_authorization_code_rules(cli_app, emulator) -> None:
    """A wrong verifier or redirect URI fails and burns the code: the right one cannot follow."""

    def attempt(**changes: str) -> dict:
        flow = cli_app.initiate_auth_code_flow([PROXY], redirect_uri="http://localhost:8400")
        base = {
            "grant_type": "authorization_code",
            "client_id": AZURE_CLI,
            "code": _browser_sign_in(emulator, flow["auth_uri"], "alice")["code"],
            "redirect_uri": "http://localhost:8400",
            "scope": PROXY,
            "code_verifier": flow["code_verifier"],
        }
        first = emulator.token_request(**{**base, **changes}).json()
        return {"first": first, "again": emulator.token_request(**base).json()}

    wrong_verifier = attempt(code_verifier="x" * 43)
    assert wrong_verifier["first"]["error_codes"] == [501481]
    assert wrong_verifier["again"]["error_codes"] == [54005]
    wrong_redirect = attempt(redirect_uri="http://localhost:9999")
    assert wrong_redirect["first"]["error_codes"] == [50011]
    assert wrong_redirect["again"]["error_codes"] == [54005]
    good = attempt()
    assert "access_token" in good["first"]
    assert good["again"]["error_codes"] == [54005]


def test_sign_in_page_errors(cli_app, emulator) -> None:
    flow = cli_app.initiate_auth_code_flow([PROXY], redirect_uri="http://localhost:8400")
    wrong = emulator.session.post(
        flow["auth_uri"], data={"username": "alice", "password": "nope"}, allow_redirects=False
    )
    assert wrong.status_code == 200
    assert "AADSTS50126" in wrong.text
    # A redirect URI that is not loopback is never redirected to.
    evil = flow["auth_uri"].replace("http%3A%2F%2Flocalhost%3A8400", "https%3A%2F%2Fevil.example")
    response = emulator.session.get(evil, allow_redirects=False)
    assert response.status_code == 400
    assert "AADSTS50011" in response.text
    # An unassigned user is sent back with the error, as Entra does.
    flow = cli_app.initiate_auth_code_flow([API], redirect_uri="http://localhost:8400")
    response = emulator.session.post(
        flow["auth_uri"], data={"username": "bob", "password": "local-only-bob"}, allow_redirects=False
    )
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["invalid_grant"]
    assert "AADSTS50105" in query["error_description"][0]
    assert query["state"] == [flow["state"]]


def test_token_cli_prints_a_verifiable_token(emulator: EmulatorProcess, verify) -> None:
    # Options after the command, as the README writes them.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "emulator",
            "token",
            "--user",
            "alice",
            "--scope",
            PROXY,
            "--state-dir",
            str(emulator.state_dir),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    claims = verify(result.stdout.strip())
    assert claims["azp"] == AZURE_CLI
    assert claims["oid"] == emulator.user("alice")["id"]


def test_token_cli_reports_entra_errors_plainly(emulator: EmulatorProcess) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "emulator",
            "--state-dir",
            str(emulator.state_dir),
            "token",
            "--user",
            "bob",
            "--scope",
            API,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: AADSTS50105")
    assert "Traceback" not in result.stderr


def test_assign_and_unassign_cli_change_the_running_emulator(emulator: EmulatorProcess) -> None:
    def run(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "emulator", "--state-dir", str(emulator.state_dir), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert "bob assigned" in run(
        "assign", "--principal", "bob", "--resource", "notification-api", "--role", "notification.read"
    )
    assert "access_token" in sign_in(emulator, "bob", [API])
    assert "bob unassigned" in run(
        "unassign", "--principal", "bob", "--resource", "notification-api", "--role", "notification.read"
    )
    assert 50105 in sign_in(emulator, "bob", [API])["error_codes"]
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "emulator",
            "--state-dir",
            str(emulator.state_dir),
            "assign",
            "--principal",
            "bob",
            "--resource",
            "notification-api",
            "--role",
            "notification.delete",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 1
    assert "no app role 'notification.delete'" in bad.stderr


def test_client_without_consent_is_aadsts65001(emulator) -> None:
    # Visual Studio Code is a first-party client, but nobody pre-authorized it on our API.
    result = emulator.token_request(
        grant_type="password",
        client_id="aebc6443-996d-45c2-90f0-388ff96faa56",
        username=emulator.user("alice")["userPrincipalName"],
        password=emulator.user("alice")["password"],
        scope=API,
    ).json()
    assert result["error"] == "invalid_grant"
    assert result["error_codes"] == [65001]


def test_the_emulator_never_logs_tokens(emulator) -> None:
    emulator.user_token("alice", PROXY)
    sign_in(emulator, "bob", [API])  # an error path logs a line
    log = emulator.log_text()
    assert "AADSTS50105" in log
    assert "eyJ" not in log
