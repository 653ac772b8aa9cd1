"""The support portal through the local stack: the proxy acts on Azure Resource Manager only as the
signed-in user (on-behalf-of), and the user's Azure RBAC decides every answer."""

from __future__ import annotations

import subprocess
import sys

import jwt
import pytest
import requests
from azure.identity import ManagedIdentityCredential

from tests.e2e.problems import problem
from tests.e2e.stack import Stack
from tests.processes import ROOT

PROXY_SCOPE = "api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/access_as_user"
STAGING, PROD = ("rg-notify-staging", "func-notify-api-staging"), ("rg-notify-prod", "func-notify-api-prod")
ARM_GRANT = "Windows Azure Service Management API"


def as_user(stack: Stack, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.emulator.user_token(user, PROXY_SCOPE)}"}


def sites(stack: Stack, user: str) -> requests.Response:
    return requests.get(f"{stack.base_url}/portal/sites", headers=as_user(stack, user), timeout=60)


def restart(stack: Stack, user: str, site: tuple[str, str], headers: dict[str, str] | None = None) -> requests.Response:
    group, name = site
    return requests.post(
        f"{stack.base_url}/portal/sites/{group}/{name}/restart", headers=headers or as_user(stack, user), timeout=60
    )


def test_alice_sees_all_and_may_restart_staging_only(stack: Stack) -> None:
    listed = sites(stack, "alice")
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["user"] == stack.emulator.user("alice")["userPrincipalName"]
    may = {(s["resourceGroup"], s["name"]): s["mayRestart"] for s in body["sites"]}
    assert may == {
        ("rg-notify-prod", "func-notify-api-prod"): False,
        ("rg-notify-prod", "func-notify-proxy-prod"): False,
        ("rg-notify-staging", "func-notify-api-staging"): True,
        ("rg-notify-staging", "func-notify-proxy-staging"): True,
    }
    assert {s["state"] for s in body["sites"]} <= {"Running", "Stopped"}
    assert restart(stack, "alice", STAGING).json()["result"] == "Restarted"


def test_alice_refused_on_prod_names_action_scope_and_role(stack: Stack) -> None:
    refused = problem(restart(stack, "alice", PROD), 403)
    assert refused["title"] == "Forbidden by Azure RBAC"
    assert refused["action"] == "Microsoft.Web/sites/restart/action"
    assert refused["scope"].endswith(
        "/resourceGroups/rg-notify-prod/providers/Microsoft.Web/sites/func-notify-api-prod"
    )
    assert refused["roles"][0] == "Website Contributor"
    assert "Website Contributor" in refused["detail"]


def test_carol_restarts_prod_and_the_activity_log_names_people(stack: Stack) -> None:
    assert restart(stack, "carol", PROD).status_code == 200
    assert restart(stack, "alice", STAGING).status_code == 200
    activity = requests.get(f"{stack.base_url}/portal/activity", headers=as_user(stack, "alice"), timeout=60)
    assert activity.status_code == 200, activity.text
    items = activity.json()["items"]
    who = {(i["who"], i["site"], i["result"]) for i in items}
    alice, carol = (stack.emulator.user(u)["userPrincipalName"] for u in ("alice", "carol"))
    assert (carol, PROD[1], "Succeeded") in who
    assert (alice, STAGING[1], "Succeeded") in who
    proxy = stack.emulator.directory["managedIdentities"]["obo-proxy-identity"]
    assert not {i["who"] for i in items} & {proxy["clientId"], proxy["principalId"], stack.emulator.app_id("obo-proxy")}
    assert {i["action"] for i in items} <= {"restart", "stop", "start"}


def test_the_proxys_identity_holds_no_azure_role_and_the_portal_works(stack: Stack) -> None:
    """The portal acts only as its user: the proxy's identity has no role assignment anywhere."""
    identity = stack.emulator.directory["managedIdentities"]["obo-proxy-identity"]
    assignments = [a["properties"] for a in stack.emulator.admin("GET", "role-assignments")["roleAssignments"]]
    assert assignments  # alice's and carol's
    assert identity["principalId"] not in {a["principalId"] for a in assignments}
    assert not {"obo-proxy", "obo-proxy-identity"} & {a["principalName"] for a in assignments}
    assert sites(stack, "carol").status_code == 200


def test_bob_has_no_azure_role(stack: Stack) -> None:
    refused = problem(sites(stack, "bob"), 403)
    assert refused["action"] == "Microsoft.Web/sites/read"
    assert refused["roles"][0] == "Reader"
    assert problem(restart(stack, "bob", STAGING), 403)["action"] == "Microsoft.Web/sites/restart/action"


def test_a_customer_tenants_user_is_told_the_subscription_is_another_tenants(stack: Stack) -> None:
    """erin (fabrikam, a customer tenant the proxy serves): the exchange goes to fabrikam, ARM refuses that
    tenant's token for our subscription; the answer says so rather than blaming the proxy's settings."""
    fabrikam = stack.emulator.directory["tenants"]["fabrikam"]
    erin = fabrikam["users"]["erin"]
    answer = stack.emulator.session.post(
        f"{stack.emulator.origin}/{fabrikam['id']}/oauth2/v2.0/token",
        data={"grant_type": "password", "client_id": "04b07795-8ddb-461a-bbee-02f9e1bf7b46", "scope": PROXY_SCOPE,
              "username": erin["userPrincipalName"], "password": erin["password"]},
        timeout=10,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    refused = problem(requests.get(f"{stack.base_url}/portal/sites", headers=headers, timeout=60), 403)
    assert refused["title"] == "Another tenant's subscription"


def test_arms_404_stays_404_and_bad_names_are_400(stack: Stack) -> None:
    missing = problem(restart(stack, "alice", ("rg-notify-staging", "no-such-app")), 404)
    assert "was not found" in missing["detail"]
    assert problem(restart(stack, "alice", ("rg-notify-staging", "-bad-")), 400)["errors"][0]["pointer"] == "/path/name"


def test_app_only_tokens_are_refused(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nobody to act for: the proxy defines no app role, so an app's token carries neither roles nor scp (401);
    one that somehow carried a role is still refused (403)."""
    stack.emulator.activate(monkeypatch)
    app_token = (
        ManagedIdentityCredential().get_token("api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/.default").token
    )
    problem(restart(stack, "", STAGING, headers={"Authorization": f"Bearer {app_token}"}), 401)
    claims = jwt.decode(app_token, options={"verify_signature": False})
    with_role = stack.emulator.mint({**claims, "roles": ["portal.admin"]})
    refused = problem(restart(stack, "", STAGING, headers={"Authorization": f"Bearer {with_role}"}), 403)
    assert "app-only tokens are not accepted" in refused["detail"]
    problem(requests.get(f"{stack.base_url}/portal/sites", timeout=60), 401)


def test_a_role_assigned_with_the_cli_works_at_the_next_request(stack: Stack) -> None:
    scope = f"/subscriptions/{stack.emulator.directory['subscriptions']['contoso-notifications']['subscriptionId']}"
    command = [sys.executable, "-m", "emulator", "--state-dir", str(stack.emulator.state_dir), "role"]
    args = ["--principal", "bob", "--role", "Website Contributor", "--scope", f"{scope}/resourceGroups/{STAGING[0]}"]
    problem(restart(stack, "bob", STAGING), 403)
    subprocess.run([*command, "assign", *args], cwd=ROOT, check=True, capture_output=True, timeout=60)
    try:
        assert restart(stack, "bob", STAGING).status_code == 200
        assert [s["name"] for s in sites(stack, "bob").json()["sites"]] == [STAGING[1], "func-notify-proxy-staging"]
    finally:
        subprocess.run([*command, "remove", *args], cwd=ROOT, check=True, capture_output=True, timeout=60)
    problem(restart(stack, "bob", STAGING), 403)


def test_without_consent_the_exchange_is_65001(stack: Stack) -> None:
    grant = {"clientAppId": stack.emulator.app_id("obo-proxy"), "resource": ARM_GRANT}
    stack.emulator.admin("DELETE", "grants", json=grant)
    try:
        refused = problem(sites(stack, "carol"), 403)
    finally:
        stack.emulator.admin("POST", "grants", json={**grant, "scopes": ["user_impersonation"]})
    assert refused["title"] == "Consent required"
    assert "AADSTS65001" in refused["detail"]
    assert refused["scopes"] == ["https://management.azure.com/user_impersonation"]
    assert sites(stack, "carol").status_code == 200  # a new sign-in after the consent
