"""What the Azure CLI needs from Entra and ARM, with MSAL,
the library az signs in with: tenant aliases, ``form_post`` to MSAL's own loopback listener, the
device code flow, the ARM audience and the tiny ARM, refresh tokens that survive a restart.
The Azure CLI itself runs against all of this in tests/azure_cli/."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import jwt
import msal
import pytest
import requests
from azure.identity import ManagedIdentityCredential
from msal.oauth2cli.authcode import AuthCodeReceiver

from tests.emulator_process import AZURE_CLI, DIRECTORY, EmulatorProcess, variant_directory

DIRECTORY_DATA = json.loads(DIRECTORY.read_text())

ARM = "https://management.core.windows.net//.default"
API = "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/.default"
SUBSCRIPTION = DIRECTORY_DATA["subscriptions"]["contoso-notifications"]["subscriptionId"]
# The tests poll a device code twice within its interval on purpose (pending, then approved).
pytestmark = pytest.mark.filterwarnings("ignore:Attempted too soon")


def cli(emulator: EmulatorProcess, tenant: str = "organizations") -> msal.PublicClientApplication:
    """The Azure CLI's MSAL client as az builds it: authority from the cloud, no instance discovery."""
    return msal.PublicClientApplication(
        AZURE_CLI, authority=f"{emulator.origin}/{tenant}", instance_discovery=False, verify=emulator.bundle
    )


def approve(emulator: EmulatorProcess, user_code: str, user: str) -> requests.Response:
    return emulator.session.post(
        f"{emulator.origin}/admin/device-codes", json={"userCode": user_code, "user": user}, timeout=10
    )


# -- tenant aliases ---------------------------------------------------------------------------


@pytest.mark.parametrize("alias", ["organizations", "common"])
def test_alias_discovery_points_endpoints_at_the_alias(emulator: EmulatorProcess, alias: str) -> None:
    meta = emulator.session.get(f"{emulator.origin}/{alias}/v2.0/.well-known/openid-configuration").json()
    assert meta["token_endpoint"] == f"{emulator.origin}/{alias}/oauth2/v2.0/token"
    assert meta["device_authorization_endpoint"] == f"{emulator.origin}/{alias}/oauth2/v2.0/devicecode"
    assert meta["issuer"] == f"{emulator.origin}/{{tenantid}}/v2.0"  # as Entra: known only after sign-in


def test_consumers_is_not_an_alias_here(emulator: EmulatorProcess) -> None:
    response = emulator.session.get(f"{emulator.origin}/consumers/v2.0/.well-known/openid-configuration")
    assert response.status_code == 400
    assert response.json()["error_codes"] == [90002]


def test_tokens_through_an_alias_are_the_tenants_own(emulator: EmulatorProcess, verify) -> None:
    login = emulator.user("alice")
    response = emulator.session.post(
        f"{emulator.origin}/organizations/oauth2/v2.0/token",
        data={
            "grant_type": "password",
            "client_id": AZURE_CLI,
            "username": login["userPrincipalName"],
            "password": login["password"],
            "scope": ARM,
        },
    )
    claims = verify(response.json()["access_token"])
    assert claims["tid"] == emulator.tenant
    assert claims["iss"] == f"https://sts.windows.net/{emulator.tenant}/"


# -- response_mode=form_post ------------------------------------------------------------------


def _browser(emulator: EmulatorProcess, auth_uri: str, user: str) -> requests.Response:
    login = emulator.user(user)
    return emulator.session.post(
        auth_uri, data={"username": login["userPrincipalName"], "password": login["password"]}, allow_redirects=False
    )


def test_form_post_reaches_msals_loopback_listener(emulator: EmulatorProcess, verify) -> None:
    app = cli(emulator)
    with AuthCodeReceiver(port=0) as receiver:
        flow = app.initiate_auth_code_flow(
            [ARM], redirect_uri=f"http://localhost:{receiver.get_port()}", response_mode="form_post"
        )
        result: dict = {}
        waiter = threading.Thread(
            target=lambda: result.update(receiver.get_auth_response(timeout=30, state=flow["state"]) or {})
        )
        waiter.start()
        page = _browser(emulator, flow["auth_uri"], "alice")
        assert page.status_code == 200
        assert "document.forms[0].submit()" in page.text
        form = re.search(r'<form method="post" action="([^"]+)"', page.text)
        assert form is not None
        action = form.group(1)
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
        assert action == flow["redirect_uri"]
        assert {"code", "state"} <= fields.keys()
        # What the browser does with the page: POST the fields to the listener.
        assert requests.post(action, data=fields, timeout=10).status_code == 200
        waiter.join(timeout=30)
    token = app.acquire_token_by_auth_code_flow(flow, result)
    assert "access_token" in token, token
    assert verify(token["access_token"])["aud"] == "https://management.core.windows.net/"


def test_a_query_redirect_is_what_msals_listener_refuses(emulator: EmulatorProcess) -> None:
    """Why form_post matters: without it the code arrives in a GET, which MSAL's listener rejects."""
    app = cli(emulator)
    with AuthCodeReceiver(port=0) as receiver:
        flow = app.initiate_auth_code_flow([ARM], redirect_uri=f"http://localhost:{receiver.get_port()}")
        threading.Thread(target=lambda: receiver.get_auth_response(timeout=5), daemon=True).start()
        redirect = _browser(emulator, flow["auth_uri"], "alice")
        assert redirect.status_code == 302
        assert requests.get(redirect.headers["location"], timeout=10).status_code == 400


# -- device code flow -------------------------------------------------------------------------


def test_device_code_flow_pending_then_approved(emulator: EmulatorProcess, verify) -> None:
    app = cli(emulator)
    flow = app.initiate_device_flow([ARM])
    assert flow["verification_uri"] == f"{emulator.origin}/devicelogin"
    assert flow["user_code"] in flow["message"]
    assert flow["interval"] == 5
    assert flow["expires_in"] == 900
    pending = app.acquire_token_by_device_flow(flow, exit_condition=lambda _: True)
    assert pending["error"] == "authorization_pending"
    assert 70016 in pending["error_codes"]
    # bob holds no role anywhere: ARM needs no assignment, so he can sign in to the CLI.
    assert approve(emulator, flow["user_code"], "bob").status_code == 200
    result = app.acquire_token_by_device_flow(flow, exit_condition=lambda _: True)
    assert "access_token" in result, result
    claims = verify(result["access_token"])
    assert claims["aud"] == "https://management.core.windows.net/"
    assert claims["scp"] == "user_impersonation"
    assert claims["upn"] == emulator.user("bob")["userPrincipalName"]
    assert claims["appid"] == AZURE_CLI
    assert {"refresh_token", "id_token", "client_info"} <= result.keys()
    again = emulator.token_request(
        grant_type="urn:ietf:params:oauth:grant-type:device_code", client_id=AZURE_CLI, device_code=flow["device_code"]
    )
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"  # one redemption only


def test_device_code_page_signs_a_person_in(emulator: EmulatorProcess) -> None:
    app = cli(emulator)
    flow = app.initiate_device_flow([ARM])
    page = f"{emulator.origin}/devicelogin"
    assert "<form" in emulator.session.get(page).text
    alice = emulator.user("alice")
    wrong = emulator.session.post(
        page, data={"user_code": flow["user_code"], "username": alice["userPrincipalName"], "password": "nope"}
    )
    assert "AADSTS50126" in wrong.text
    typo = emulator.session.post(
        page, data={"user_code": "WRONGCOD", "username": alice["userPrincipalName"], "password": alice["password"]}
    )
    assert "AADSTS70018" in typo.text
    done = emulator.session.post(
        page,
        data={"user_code": flow["user_code"], "username": alice["userPrincipalName"], "password": alice["password"]},
    )
    assert "signed in to Microsoft Azure CLI" in done.text
    assert "access_token" in app.acquire_token_by_device_flow(flow, exit_condition=lambda _: True)


def test_approval_applies_the_sign_in_rules(emulator: EmulatorProcess) -> None:
    """A device code for the API: bob is not assigned (AADSTS50105), so nobody can approve it for him."""
    flow = cli(emulator).initiate_device_flow([API])
    refused = approve(emulator, flow["user_code"], "bob")
    assert refused.status_code == 400
    assert "AADSTS50105" in refused.json()["error"]
    assert approve(emulator, flow["user_code"], "nobody").status_code == 400
    assert approve(emulator, "NOTACODE", "alice").status_code == 400


def test_device_code_for_an_unknown_resource_fails_at_once(emulator: EmulatorProcess) -> None:
    response = emulator.session.post(
        f"{emulator.origin}/organizations/oauth2/v2.0/devicecode",
        data={"client_id": AZURE_CLI, "scope": "api://nothing-here/.default"},
    )
    assert response.status_code == 400
    assert response.json()["error_codes"] == [500011]


def test_an_expired_device_code_is_expired_token(tmp_path: Path, emulator: EmulatorProcess) -> None:
    short = EmulatorProcess(tmp_path / "state", DIRECTORY, *_lifetime(1), share_tls_with=emulator)
    try:
        app = cli(short)
        flow = app.initiate_device_flow([ARM])
        time.sleep(1.5)  # past expires_in: not a timing assertion, the state under test
        result = app.acquire_token_by_device_flow(flow, exit_condition=lambda _: True)
        assert result["error"] == "expired_token"
        assert 70019 in result["error_codes"]
        assert approve(short, flow["user_code"], "alice").status_code == 400
    finally:
        short.stop()


def _lifetime(seconds: int) -> tuple[str, ...]:
    return ("--device-code-lifetime", str(seconds), "--device-code-interval", "1")


# -- ARM: the audience and the tiny resource manager ------------------------------------------


def _arm_token(emulator: EmulatorProcess, user: str = "alice", scope: str = ARM) -> str:
    login = emulator.user(user)
    return emulator.token_request(
        grant_type="password",
        client_id=AZURE_CLI,
        username=login["userPrincipalName"],
        password=login["password"],
        scope=scope,
    ).json()["access_token"]


def test_arm_lists_the_tenant_and_the_subscription(emulator: EmulatorProcess) -> None:
    headers = {"Authorization": f"Bearer {_arm_token(emulator, 'alice')}"}
    version = {"api-version": "2022-12-01"}
    tenants = emulator.session.get(f"{emulator.origin}/tenants", params=version, headers=headers).json()
    assert tenants["value"][0]["tenantId"] == emulator.tenant
    assert tenants["value"][0]["defaultDomain"] == emulator.directory["tenant"]["domain"]
    subscriptions = emulator.session.get(f"{emulator.origin}/subscriptions", params=version, headers=headers).json()
    assert [s["subscriptionId"] for s in subscriptions["value"]] == [SUBSCRIPTION]
    one = emulator.session.get(f"{emulator.origin}/subscriptions/{SUBSCRIPTION}", params=version, headers=headers)
    assert one.json()["state"] == "Enabled"
    assert one.json()["tenantId"] == emulator.tenant
    other = emulator.session.get(f"{emulator.origin}/subscriptions/{'1' * 8}", params=version, headers=headers)
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "SubscriptionNotFound"
    # bob holds no Azure role: ARM lists no subscription for him (az login needs --allow-no-subscriptions).
    bob = {"Authorization": f"Bearer {_arm_token(emulator, 'bob')}"}
    assert emulator.session.get(f"{emulator.origin}/subscriptions", params=version, headers=bob).json() == {"value": []}
    hidden = emulator.session.get(f"{emulator.origin}/subscriptions/{SUBSCRIPTION}", params=version, headers=bob)
    assert hidden.status_code == 404


def test_arm_refuses_without_a_valid_arm_token(emulator: EmulatorProcess) -> None:
    url, version = f"{emulator.origin}/subscriptions", {"api-version": "2022-12-01"}
    cases = {
        "AuthenticationFailed": {},
        "InvalidAuthenticationToken": {"Authorization": "Bearer not-a-token"},
        # A token for another audience (the notification API) is not an ARM token.
        "InvalidAuthenticationTokenAudience": {"Authorization": f"Bearer {_arm_token(emulator, scope=API)}"},
    }
    for code, headers in cases.items():
        response = emulator.session.get(url, params=version, headers=headers)
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == code, response.text
        assert response.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")
    expired = emulator.mint(
        {"aud": "https://management.core.windows.net/", "iss": f"https://sts.windows.net/{emulator.tenant}/",
         "iat": 1, "exp": 2}
    )  # fmt: skip
    response = emulator.session.get(url, params=version, headers={"Authorization": f"Bearer {expired}"})
    assert response.json()["error"]["code"] == "ExpiredAuthenticationToken"
    headers = {"Authorization": f"Bearer {_arm_token(emulator)}"}
    assert emulator.session.get(url, headers=headers).json()["error"]["code"] == "MissingApiVersionParameter"


def test_arm_metadata_describes_this_cloud(emulator: EmulatorProcess) -> None:
    meta = emulator.session.get(f"{emulator.origin}/metadata/endpoints", params={"api-version": "2022-09-01"}).json()
    assert meta["resourceManager"] == f"{emulator.origin}/"
    assert meta["authentication"]["loginEndpoint"] == emulator.origin
    assert meta["authentication"]["audiences"][0] == "https://management.core.windows.net/"


def test_managed_identity_gets_an_arm_token(emulator: EmulatorProcess, verify) -> None:
    """``az login --identity`` asks for this first; no assignment is needed for ARM."""
    token = ManagedIdentityCredential().get_token(ARM).token
    claims = verify(token)
    assert claims["aud"] == "https://management.core.windows.net/"
    assert claims["idtyp"] == "app"
    assert claims["oid"] == emulator.identity("caller-app")["principalId"]


# -- refresh tokens survive a restart -----------------------------------------------------------


def alice_signed_in_then_stopped(state: Path, emulator: EmulatorProcess) -> str:
    """alice signs in through the device code flow on an emulator with ``state``, which then stops;
    the refresh token the Azure CLI would keep."""
    first = EmulatorProcess(state, share_tls_with=emulator)
    try:
        app = cli(first)
        flow = app.initiate_device_flow([ARM])
        approve(first, flow["user_code"], "alice").raise_for_status()
        refresh: str = app.acquire_token_by_device_flow(flow, exit_condition=lambda _: True)["refresh_token"]
        return refresh
    finally:
        first.stop()


def test_refresh_tokens_survive_a_restart(tmp_path: Path, emulator: EmulatorProcess) -> None:
    state = tmp_path / "state"
    refresh = alice_signed_in_then_stopped(state, emulator)
    assert refresh not in (state / "refresh-tokens.json").read_text()  # digests only
    second = EmulatorProcess(state, share_tls_with=emulator)
    try:
        form = {"grant_type": "refresh_token", "client_id": AZURE_CLI, "refresh_token": refresh, "scope": API}
        response = second.token_request(**form)
        assert response.status_code == 200, response.text
        claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})  # its own key
        assert claims["upn"] == emulator.user("alice")["userPrincipalName"]
        second.reset()  # a reset is a just-started emulator: it keeps refresh tokens too
        assert second.token_request(**form).status_code == 200
        forged = second.token_request(**{**form, "refresh_token": refresh[:-4] + "AAAA"})
        assert forged.status_code == 400
        assert forged.json()["error_codes"] == [70008]
    finally:
        second.stop()


def _without_alice(data: dict) -> None:
    del data["users"]["alice"]
    data["appRoleAssignments"] = [a for a in data["appRoleAssignments"] if a["principal"] != "alice"]
    data["roleAssignments"] = [a for a in data["roleAssignments"] if a["principal"] != "alice"]
    for group in data["groups"].values():
        group["members"] = [m for m in group["members"] if m != "alice"]


def test_a_refresh_token_whose_user_is_gone_is_aadsts50034_not_a_500(tmp_path: Path, emulator: EmulatorProcess) -> None:
    """Regression (found by mypy: the user lookup can find nobody): the refresh grant answered a 500
    when the user had been removed from directory.json since the token was issued. Entra: AADSTS50034."""
    state = tmp_path / "state"
    refresh = alice_signed_in_then_stopped(state, emulator)
    second = EmulatorProcess(state, variant_directory(tmp_path, _without_alice), share_tls_with=emulator)
    try:
        form = {"grant_type": "refresh_token", "client_id": AZURE_CLI, "refresh_token": refresh, "scope": API}
        response = second.token_request(**form)
        assert response.status_code == 400, response.text
        assert response.json()["error_codes"] == [50034]
    finally:
        second.stop()
