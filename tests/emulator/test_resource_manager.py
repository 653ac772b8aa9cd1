"""The emulator's Resource Manager with the real Azure SDK clients: azure-mgmt-web lists and restarts,
azure-mgmt-monitor reads the activity log, azure-mgmt-resource lists what RBAC lets a caller see.
Nothing of ARM is faked on the client side; the caller's Azure roles decide every answer."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import ManagedIdentityCredential, OnBehalfOfCredential
from azure.mgmt.monitor import MonitorManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.web import WebSiteManagementClient

from tests.emulator_process import AZURE_CLI, EmulatorProcess
from tests.processes import ROOT

ARM = "https://management.core.windows.net//.default"
ARM_SCOPE = "https://management.azure.com/user_impersonation"
PROXY = "api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/access_as_user"
EXCHANGE = "api://AzureADTokenExchange/.default"
PROD, STAGING = "rg-notify-prod", "rg-notify-staging"
PROD_APP, STAGING_APP = "func-notify-api-prod", "func-notify-api-staging"
RESTART = "Microsoft.Web/sites/restart/action"
EVENTS = "/subscriptions/{sub}/providers/Microsoft.Insights/eventtypes/management/values"


class UserCredential:
    """A user's ARM token from the emulator (password grant through the Azure CLI client): a real token,
    handed to the SDK as any TokenCredential would."""

    def __init__(self, emulator: EmulatorProcess, user: str) -> None:
        self.emulator, self.user = emulator, user

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken(self.emulator.user_token(self.user, ARM), int(time.time()) + 3000)


def subscription(emulator: EmulatorProcess) -> str:
    return str(emulator.directory["subscriptions"]["contoso-notifications"]["subscriptionId"])


def web(emulator: EmulatorProcess, credential: object) -> WebSiteManagementClient:
    return WebSiteManagementClient(
        credential,  # type: ignore[arg-type]
        subscription(emulator),
        base_url=emulator.origin,
        credential_scopes=[ARM],
        connection_verify=emulator.bundle,
    )


@pytest.fixture
def sites_as(emulator: EmulatorProcess) -> Callable[[str], WebSiteManagementClient]:
    return lambda user: web(emulator, UserCredential(emulator, user))


def refusal(call: Callable[[], object]) -> HttpResponseError:
    with pytest.raises(HttpResponseError) as raised:
        call()
    return raised.value


def test_alice_reads_everything_and_restarts_staging_only(sites_as, emulator: EmulatorProcess) -> None:
    alice = sites_as("alice")
    names = sorted(s.name for s in alice.web_apps.list())
    assert names == ["func-notify-api-prod", "func-notify-api-staging", "func-notify-proxy-prod",
                     "func-notify-proxy-staging"]  # fmt: skip
    staging = alice.web_apps.get(STAGING, STAGING_APP)
    assert staging.kind == "functionapp,linux"
    assert staging.state == "Running"
    assert staging.resource_group == STAGING
    assert alice.web_apps.restart(STAGING, STAGING_APP) is None  # 200, empty body
    refused = refusal(lambda: alice.web_apps.restart(PROD, PROD_APP))
    assert refused.status_code == 403
    assert refused.error is not None
    assert refused.error.code == "AuthorizationFailed"
    scope = f"/subscriptions/{subscription(emulator)}/resourceGroups/{PROD}/providers/Microsoft.Web/sites/{PROD_APP}"
    alice_user = emulator.user("alice")
    assert refused.error.message == (
        f"The client '{alice_user['userPrincipalName']}' with object id '{alice_user['id']}' does not have "
        f"authorization to perform action '{RESTART}' over scope '{scope}' or the scope is invalid. If access was "
        "recently granted, please refresh your credentials."
    )


def test_carol_restarts_both_bob_sees_nothing(sites_as) -> None:
    carol = sites_as("carol")
    assert len(list(carol.web_apps.list_by_resource_group(PROD))) == 2
    carol.web_apps.restart(PROD, PROD_APP)
    carol.web_apps.restart(STAGING, STAGING_APP)
    bob = sites_as("bob")
    listed = refusal(lambda: list(bob.web_apps.list()))
    assert listed.status_code == 403
    assert refusal(lambda: bob.web_apps.restart(STAGING, STAGING_APP)).status_code == 403


def test_stop_and_start_change_the_state(sites_as) -> None:
    carol = sites_as("carol")
    carol.web_apps.stop(PROD, PROD_APP)
    assert carol.web_apps.get(PROD, PROD_APP).state == "Stopped"
    carol.web_apps.start(PROD, PROD_APP)
    assert carol.web_apps.get(PROD, PROD_APP).state == "Running"


def test_authorization_before_existence(sites_as) -> None:
    """A reader learns a site does not exist (404); someone without the right learns nothing (403)."""
    missing = refusal(lambda: sites_as("alice").web_apps.get(PROD, "no-such-app"))
    assert isinstance(missing, ResourceNotFoundError)
    assert missing.error is not None
    assert missing.error.code == "ResourceNotFound"
    assert str(missing.error.message).startswith("The Resource 'Microsoft.Web/sites/no-such-app' under resource group")
    group = refusal(lambda: sites_as("alice").web_apps.get("rg-nowhere", "x"))
    assert group.error is not None
    assert group.error.code == "ResourceGroupNotFound"
    hidden = refusal(lambda: sites_as("bob").web_apps.get(PROD, "no-such-app"))
    assert hidden.status_code == 403


def test_activity_log_names_the_callers(sites_as, emulator: EmulatorProcess) -> None:
    sites_as("alice").web_apps.restart(STAGING, STAGING_APP)
    refusal(lambda: sites_as("alice").web_apps.restart(PROD, PROD_APP))
    sites_as("carol").web_apps.restart(PROD, PROD_APP)
    monitor = MonitorManagementClient(
        UserCredential(emulator, "alice"),
        subscription(emulator),
        base_url=emulator.origin,
        credential_scopes=[ARM],
        connection_verify=emulator.bundle,
    )
    since = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    events = list(monitor.activity_logs.list(filter=f"eventTimestamp ge '{since}'"))
    seen = [(e.caller, e.resource_group_name, e.operation_name and e.operation_name.value, e.status and e.status.value)
            for e in events]  # fmt: skip
    alice, carol = (emulator.user(u)["userPrincipalName"] for u in ("alice", "carol"))
    assert seen == [
        (carol, PROD, RESTART, "Succeeded"),
        (alice, PROD, RESTART, "Failed"),
        (alice, STAGING, RESTART, "Succeeded"),
    ]
    only_staging = monitor.activity_logs.list(
        filter=f"eventTimestamp ge '{since}' and resourceGroupName eq '{STAGING}'"
    )
    assert [e.caller for e in only_staging] == [alice]
    with pytest.raises(HttpResponseError) as no_time:
        list(monitor.activity_logs.list(filter=f"resourceGroupName eq '{STAGING}'"))
    assert no_time.value.status_code == 400
    # Website Contributor does not read the activity log: carol's role is about sites only.
    carol_monitor = MonitorManagementClient(
        UserCredential(emulator, "carol"), subscription(emulator), base_url=emulator.origin, credential_scopes=[ARM],
        connection_verify=emulator.bundle,
    )  # fmt: skip
    assert (
        refusal(lambda: list(carol_monitor.activity_logs.list(filter=f"eventTimestamp ge '{since}'"))).status_code
        == 403
    )


def test_resource_groups_follow_rbac(emulator: EmulatorProcess) -> None:
    def groups(user: str) -> list[str]:
        client = ResourceManagementClient(
            UserCredential(emulator, user), subscription(emulator), base_url=emulator.origin,
            credential_scopes=[ARM], connection_verify=emulator.bundle,
        )  # fmt: skip
        return sorted(str(g.name) for g in client.resource_groups.list())

    assert groups("alice") == [PROD, STAGING]
    assert groups("carol") == [PROD, STAGING]  # Website Contributor reads resource groups
    with pytest.raises(HttpResponseError):
        groups("bob")


def test_a_role_assigned_at_run_time_applies_at_the_next_request(sites_as, emulator: EmulatorProcess) -> None:
    scope = f"/subscriptions/{subscription(emulator)}/resourceGroups/{STAGING}"
    bob = sites_as("bob")
    assert refusal(lambda: bob.web_apps.restart(STAGING, STAGING_APP)).status_code == 403
    command = [sys.executable, "-m", "emulator", "--state-dir", str(emulator.state_dir), "role"]
    upn = emulator.user("bob")["userPrincipalName"]  # a name, object id or UPN, as error messages give them
    args = ["--principal", upn, "--role", "Website Contributor", "--scope", scope]
    assigned = subprocess.run([*command, "assign", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert assigned.returncode == 0, assigned.stderr
    assert f"{upn} assigned: Website Contributor at" in assigned.stdout
    assert "10 minutes" in assigned.stdout
    bob.web_apps.restart(STAGING, STAGING_APP)
    assert [s.name for s in bob.web_apps.list()] == ["func-notify-api-staging", "func-notify-proxy-staging"]
    assert refusal(lambda: bob.web_apps.restart(PROD, PROD_APP)).status_code == 403
    emulator.admin(
        "DELETE", "role-assignments", json={"principal": "bob", "role": "Website Contributor", "scope": scope}
    )
    assert refusal(lambda: bob.web_apps.restart(STAGING, STAGING_APP)).status_code == 403


def test_role_changes_refuse_what_azure_would(emulator: EmulatorProcess) -> None:
    sub = f"/subscriptions/{subscription(emulator)}"
    for body in (
        {"principal": "nobody", "role": "Reader", "scope": sub},
        {"principal": "bob", "role": "Website Owner", "scope": sub},
        {"principal": "bob", "role": "Reader", "scope": f"{sub}/resourceGroups/rg-nowhere"},
        {"principal": "bob", "role": "Reader", "scope": "/subscriptions/11111111-1111-1111-1111-111111111111"},
    ):
        response = emulator.session.post(f"{emulator.origin}/admin/role-assignments", json=body, timeout=10)
        assert response.status_code == 400, body


def test_permissions_say_what_the_caller_may_do(emulator: EmulatorProcess) -> None:
    sub = f"/subscriptions/{subscription(emulator)}"

    def actions(user: str, scope: str) -> list[list[str]]:
        token = emulator.user_token(user, ARM)
        response = emulator.session.get(
            f"{emulator.origin}{scope}/providers/Microsoft.Authorization/permissions",
            params={"api-version": "2022-04-01"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return sorted(p["actions"] for p in response.json()["value"])

    assert actions("alice", f"{sub}/resourceGroups/{PROD}") == [["*/read"]]
    staging = actions("alice", f"{sub}/resourceGroups/{STAGING}/providers/Microsoft.Web/sites/{STAGING_APP}")
    assert len(staging) == 2
    assert "Microsoft.Web/sites/*" in staging[0] + staging[1]
    assert actions("bob", sub) == []


def test_the_proxys_managed_identity_holds_no_azure_role(emulator: EmulatorProcess) -> None:
    """The portal acts only as its user: its own identity lists no subscription and reads no site."""
    identity = ManagedIdentityCredential(client_id=emulator.identity("obo-proxy-identity")["clientId"])
    token = identity.get_token(ARM).token
    headers = {"Authorization": f"Bearer {token}"}
    listed = emulator.session.get(
        f"{emulator.origin}/subscriptions", params={"api-version": "2022-12-01"}, headers=headers, timeout=10
    )
    assert listed.json() == {"value": []}
    refused = refusal(lambda: list(web(emulator, identity).web_apps.list()))
    assert refused.status_code == 403
    oid = emulator.identity("obo-proxy-identity")["principalId"]
    assert refused.error is not None
    assert str(refused.error.message).startswith(f"The client '{oid}' with object id '{oid}'")


def test_the_proxy_needs_consent_for_arm(emulator: EmulatorProcess, verify) -> None:
    """OBO to ARM: a v1 token for the user with user_impersonation once the tenant consented; AADSTS65001 before."""
    identity = ManagedIdentityCredential(client_id=emulator.identity("obo-proxy-identity")["clientId"])

    def exchange(user: str) -> str:
        return (
            OnBehalfOfCredential(
                emulator.tenant,
                emulator.app_id("obo-proxy"),
                user_assertion=emulator.user_token(user, PROXY),
                client_assertion_func=lambda: identity.get_token(EXCHANGE).token,
                authority=emulator.origin,
                disable_instance_discovery=True,
            )
            .get_token(ARM_SCOPE)
            .token
        )

    claims = verify(exchange("alice"))
    assert claims["aud"] == "https://management.azure.com/"
    assert claims["ver"] == "1.0"
    assert claims["iss"] == f"https://sts.windows.net/{emulator.tenant}/"
    assert claims["scp"] == "user_impersonation"
    assert claims["appid"] == emulator.app_id("obo-proxy")
    assert claims["oid"] == emulator.user("alice")["id"]
    grant = {"clientAppId": emulator.app_id("obo-proxy"), "resource": "Windows Azure Service Management API"}
    emulator.admin("DELETE", "grants", json=grant)
    with pytest.raises(Exception, match="AADSTS65001"):
        exchange("carol")
    # Only Microsoft can pre-authorize clients on its own API.
    refused = emulator.session.post(
        f"{emulator.origin}/admin/pre-authorizations", json={**grant, "scopes": ["user_impersonation"]}, timeout=10
    )
    assert refused.status_code == 400


# -- ARM's own answers --------------------------------------------------------------------------


def _claims(emulator: EmulatorProcess, **changes: object) -> dict:
    now = int(time.time())
    alice = emulator.user("alice")
    claims: dict = {
        "aud": "https://management.core.windows.net/", "iss": f"https://sts.windows.net/{emulator.tenant}/",
        "iat": now, "nbf": now, "exp": now + 600, "oid": alice["id"], "tid": emulator.tenant, "ver": "1.0",
        "upn": alice["userPrincipalName"], "scp": "user_impersonation", "idtyp": "user",
    }  # fmt: skip
    claims.update(changes)
    return claims


def _sites(
    emulator: EmulatorProcess, token: str | None, version: str = "2024-11-01", path: str = ""
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    url = f"{emulator.origin}/subscriptions/{subscription(emulator)}{path or '/providers/Microsoft.Web/sites'}"
    return emulator.session.get(url, params={"api-version": version}, headers=headers, timeout=10)


@pytest.mark.parametrize(
    "audience",
    ["https://management.core.windows.net/", "https://management.core.windows.net", "https://management.azure.com/",
     "https://management.azure.com"],
)  # fmt: skip
def test_the_four_arm_audiences(emulator: EmulatorProcess, audience: str) -> None:
    response = _sites(emulator, emulator.mint(_claims(emulator, aud=audience)))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("audience", "shown"),
    [
        (
            "797f4846-ba00-4fd7-ba43-dac1f8f63013",
            "797f4846-ba00-4fd7-ba43-dac1f8f63013",
        ),  # the app id: not an ARM audience
        ("https://management.azure.com/\r\nX-Injected: 1", None),  # was a 500: the claim reached a header
        (["https://management.azure.com/"], None),
        ({"a": 1}, None),
        (42, None),
        ("HTTPS://MANAGEMENT.AZURE.COM/", "HTTPS://MANAGEMENT.AZURE.COM/"),  # ARM compares exactly
    ],
)
def test_wrong_audiences_are_arms_401(emulator: EmulatorProcess, audience: object, shown: str | None) -> None:
    response = _sites(emulator, emulator.mint(_claims(emulator, aud=audience)))
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "InvalidAuthenticationTokenAudience"
    assert (
        "It should exactly match with one of the allowed audiences 'https://management.core.windows.net/'"
        in (error["message"])
    )
    if shown:
        assert f"wrong audience or resource '{shown}'" in error["message"]
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer authorization_uri="')
    assert "\r" not in challenge
    assert "X-Injected" not in response.headers


def test_missing_invalid_expired_and_foreign_tokens(emulator: EmulatorProcess) -> None:
    missing = _sites(emulator, None)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "AuthenticationFailed"
    assert 'error="invalid_token"' in missing.headers["WWW-Authenticate"]
    assert _sites(emulator, "not-a-token").json()["error"]["code"] == "InvalidAuthenticationToken"
    expired = _sites(
        emulator, emulator.mint(_claims(emulator, iat=1_600_000_000, nbf=1_600_000_000, exp=1_600_000_600))
    )
    error = expired.json()["error"]
    assert error["code"] == "ExpiredAuthenticationToken"
    assert error["message"].startswith("The access token expiry UTC time '9/13/2020 12:36:40 PM' is earlier than")
    for issuer in ("https://sts.windows.net/other-tenant/", f"https://sts.windows.net/{emulator.tenant}"):
        foreign = _sites(emulator, emulator.mint(_claims(emulator, iss=issuer)))
        assert foreign.json()["error"]["code"] == "InvalidAuthenticationTokenTenant", issuer


def test_api_versions_as_arm_answers_them(emulator: EmulatorProcess) -> None:
    token = emulator.user_token("alice", ARM)
    for version in ("2025-05-01", "2024-11-01", "2024-04-01", "2023-12-01"):
        assert _sites(emulator, token, version).status_code == 200
    unknown = _sites(emulator, token, "2099-01-01").json()["error"]
    assert unknown["code"] == "NoRegisteredProviderFound"
    assert "API version '2099-01-01' for type 'sites'" in unknown["message"]
    own = _sites(emulator, token, "2099-01-01", path="/resourcegroups").json()["error"]
    assert own["code"] == "InvalidApiVersionParameter"
    assert own["message"].startswith("The api-version '2099-01-01' is invalid. The supported versions are '")
    url = f"{emulator.origin}/subscriptions/{subscription(emulator)}/providers/Microsoft.Web/sites"
    none = emulator.session.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert none.json()["error"]["code"] == "MissingApiVersionParameter"
    # Paths are case-insensitive, as ARM's are (az sends "resourcegroups" in lower case).
    lower = f"/resourcegroups/{STAGING}/providers/microsoft.web/SITES/{STAGING_APP}"
    assert _sites(emulator, token, path=lower).json()["name"] == STAGING_APP


@pytest.mark.parametrize(
    ("method", "path", "params", "status"),
    [
        ("GET", "/subscriptions/%00/providers/Microsoft.Web/sites", {}, 404),
        ("GET", "/subscriptions/{sub}/resourceGroups/%C3%BC/providers/Microsoft.Web/sites/x", {}, 404),
        ("GET", "/subscriptions/{sub}/resourceGroups/a%0D%0Ab/providers/Microsoft.Web/sites/x", {}, 404),
        ("GET", "/subscriptions/{sub}/resourceGroups/rg-notify-prod/providers/Microsoft.Web/sites/%FF", {}, 404),
        ("PUT", "/subscriptions/{sub}/resourceGroups/rg-notify-prod/providers/Microsoft.Web/sites/x", {}, 405),
        ("GET", "/subscriptions/{sub}/providers/Microsoft.Nothing/things", {}, 404),
        ("GET", "/subscriptions/{sub}/providers/Microsoft.Authorization/permissions", {"api-version": "2022-04-01"},
         200),
        ("GET", "/subscriptions/{sub}/resourceGroups/nowhere/providers/Microsoft.Authorization/permissions",
         {"api-version": "2022-04-01"}, 404),
        ("GET", EVENTS, {"api-version": "2015-04-01", "$filter": "eventTimestamp ge 'not a date'"}, 400),
        ("GET", EVENTS, {"api-version": "2015-04-01", "$filter": "eventTimestamp ge '2020-01-01T00:00:00'"}, 200),
        ("GET", EVENTS, {"api-version": "2015-04-01", "$filter": "eventTimestamp ge '9999-12-31T23:59:59-01:00'"}, 200),
        ("GET", EVENTS, {"api-version": "2015-04-01", "$filter": "eventTimestamp ge '2020-01-01' or 1 eq 1"}, 400),
        ("GET", EVENTS, {"api-version": "2015-04-01", "$filter": "x" * 10_000}, 400),
        ("GET", EVENTS, {"api-version": "2015-04-01\r\nX: y", "$filter": "eventTimestamp ge '2020-01-01'"}, 400),
    ],
)  # fmt: skip
def test_odd_requests_get_arms_4xx_never_a_500(
    emulator: EmulatorProcess, method: str, path: str, params: dict, status: int
) -> None:
    params = {"api-version": "2024-11-01", **params}
    url = f"{emulator.origin}{path.replace('{sub}', subscription(emulator))}"
    headers = {"Authorization": f"Bearer {emulator.user_token('alice', ARM)}"}
    response = emulator.session.request(method, url, params=params, headers=headers, timeout=10)
    assert response.status_code == status, response.text
    assert ("error" in response.json()) is (status >= 400)


def test_each_subscription_answers_its_own_tenant_only(emulator: EmulatorProcess) -> None:
    """ARM takes any tenant's token for /tenants and /subscriptions; a subscription wants its own tenant's."""
    fabrikam = emulator.directory["tenants"]["fabrikam"]
    erin = fabrikam["users"]["erin"]
    answer = emulator.session.post(
        f"{emulator.origin}/{fabrikam['id']}/oauth2/v2.0/token",
        data={"grant_type": "password", "client_id": AZURE_CLI, "scope": ARM, "username": erin["userPrincipalName"],
              "password": erin["password"]},
        timeout=10,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    version = {"api-version": "2022-12-01"}
    tenants = emulator.session.get(f"{emulator.origin}/tenants", params=version, headers=headers, timeout=10).json()
    assert [t["tenantId"] for t in tenants["value"]] == [fabrikam["id"]]
    listed = emulator.session.get(f"{emulator.origin}/subscriptions", params=version, headers=headers, timeout=10)
    assert listed.json() == {"value": []}
    contoso = _sites(emulator, answer.json()["access_token"])
    assert contoso.status_code == 401
    assert contoso.json()["error"]["code"] == "InvalidAuthenticationTokenTenant"
    assert (
        f"'https://sts.windows.net/{emulator.tenant}/' associated with this subscription"
        in (contoso.json()["error"]["message"])
    )
