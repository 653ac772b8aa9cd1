"""The API serves its customers and no one else, end to end: users of the customer tenant signed in at
their own tenant, its managed identity through azure-identity's ManagedIdentityCredential, the proxy
exchanging in the user's tenant with MSAL, and the attacker's tenant refused by the allow-list.

Tenants (directory.json): contoso (home), fabrikam (a customer: erin holds notification.read, frank
nothing, fabrikam-sync notification.create), northwind (mallory consented and granted herself
notification.create; not on the local allow-list).
"""

from __future__ import annotations

import uuid

import jwt
import pytest
import requests
from azure.identity import ManagedIdentityCredential

from tests.auth.token_factory import DIRECTORY
from tests.e2e.stack import Stack

API_URI = DIRECTORY["applications"]["notification-api"]["identifierUris"][0]
API = f"{API_URI}/.default"
PROXY_SCOPE = DIRECTORY["applications"]["obo-proxy"]["identifierUris"][0] + "/access_as_user"


def problem(response: requests.Response, status: int) -> dict:
    assert response.status_code == status, f"{response.status_code} {response.text[:300]}"
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


def call(stack: Stack, method: str, path: str, token: str, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.request(method, f"{stack.base_url}{path}", headers=headers, timeout=60, **kwargs)


def tenant_of(name: str) -> dict:
    return dict(DIRECTORY["tenants"][name])


def sign_in(stack: Stack, tenant: str, user: str, scope: str) -> str:
    """The user signs in at their own tenant (the emulator's password grant through the Azure CLI's
    app id: MSAL's username/password flow looks up the user's realm on port 443, not the emulator's)."""
    return stack.emulator.user_token(user, scope, tenant=tenant)


@pytest.fixture
def fabrikam_sync(stack: Stack, monkeypatch) -> str:
    """fabrikam's own managed identity, through the one managed identity endpoint."""
    stack.emulator.activate(monkeypatch)
    client_id = tenant_of("fabrikam")["managedIdentities"]["fabrikam-sync"]["clientId"]
    return ManagedIdentityCredential(client_id=client_id).get_token(API).token


def test_a_customers_managed_identity_creates_in_its_own_tenant(stack: Stack, fabrikam_sync: str, monkeypatch) -> None:
    fabrikam, erin = tenant_of("fabrikam"), tenant_of("fabrikam")["users"]["erin"]
    claims = jwt.decode(fabrikam_sync, options={"verify_signature": False})
    assert (claims["tid"], claims["roles"]) == (fabrikam["id"], ["notification.create"])
    created = call(
        stack, "POST", "/notifications", fabrikam_sync, json={"recipient": erin["id"], "title": "t", "body": "b"}
    )
    assert created.status_code == 201, created.text
    notification = created.json()["id"]
    # erin, at her tenant, sees it; contoso's app with notification.read does not even see that it exists.
    as_erin = sign_in(stack, "fabrikam", "erin", API)
    assert notification in {
        n["id"] for n in call(stack, "GET", "/notifications", as_erin, params={"top": 100}).json()["items"]
    }
    stack.emulator.activate(monkeypatch)
    contoso_app = ManagedIdentityCredential().get_token(API).token
    assert problem(call(stack, "GET", f"/notifications/{notification}", contoso_app), 404)
    assert problem(call(stack, "POST", f"/notifications/{notification}/ack", contoso_app), 404)
    listed = call(stack, "GET", "/notifications", contoso_app, params={"top": 100}).json()["items"]
    assert notification not in {n["id"] for n in listed}


def test_the_same_recipient_in_two_tenants_is_two_mailboxes(stack: Stack, fabrikam_sync: str, monkeypatch) -> None:
    """contoso's build agents address erin's object id: in contoso's partition, not erin's mailbox."""
    erin = tenant_of("fabrikam")["users"]["erin"]
    stack.emulator.activate(monkeypatch)
    build_agents = ManagedIdentityCredential(client_id=stack.emulator.identity("build-agents")["clientId"])
    body = {"recipient": erin["id"], "title": f"from contoso {uuid.uuid4()}", "body": "b"}
    in_contoso = call(stack, "POST", "/notifications", build_agents.get_token(API).token, json=body).json()["id"]
    as_erin = sign_in(stack, "fabrikam", "erin", API)
    assert problem(call(stack, "GET", f"/notifications/{in_contoso}", as_erin), 404)


def test_erin_lists_through_the_proxy_exchanged_in_her_tenant(stack: Stack) -> None:
    token = sign_in(stack, "fabrikam", "erin", PROXY_SCOPE)
    listed = call(stack, "GET", "/obo/notifications", token)
    assert listed.status_code == 200, listed.text
    erin = tenant_of("fabrikam")["users"]["erin"]["id"]
    assert all(n["recipient"] == erin for n in listed.json()["items"])


def test_frank_is_refused_by_his_tenant_and_the_proxy_says_so(stack: Stack) -> None:
    token = sign_in(stack, "fabrikam", "frank", PROXY_SCOPE)
    refused = problem(call(stack, "GET", "/obo/notifications", token), 403)
    assert "AADSTS50105" in refused["detail"]
    assert refused["title"] == "Not assigned"


def test_mallory_is_refused_although_her_token_carries_the_role(stack: Stack) -> None:
    northwind = tenant_of("northwind")
    token = sign_in(stack, "northwind", "mallory", API)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert "notification.create" in claims["roles"]  # signed by Entra, for our API, with the role
    body = {"recipient": northwind["users"]["mallory"]["id"], "title": "t", "body": "b"}
    refused = problem(call(stack, "POST", "/notifications", token, json=body), 403)
    assert refused["tenant"] == northwind["id"]
    assert f"Tenant {northwind['id']} is not a customer" in refused["detail"]


def test_the_proxy_checks_its_callers_tenants_too(stack: Stack) -> None:
    """OBO_ALLOWED_TENANTS: a user of a tenant the proxy does not serve is refused by its guard, before
    the handler (and any exchange) runs.
    (mallory's tenant has no enterprise application of the proxy, so her token is minted, as one
    would be after her consent to it.)"""
    northwind = tenant_of("northwind")
    erin = jwt.decode(sign_in(stack, "fabrikam", "erin", PROXY_SCOPE), options={"verify_signature": False})
    theirs = {
        **erin,
        "tid": northwind["id"],
        "iss": erin["iss"].replace(erin["tid"], northwind["id"]),
        "oid": northwind["users"]["mallory"]["id"],
    }
    refused = problem(call(stack, "GET", "/obo/notifications", stack.emulator.mint(theirs)), 403)
    assert refused["tenant"] == northwind["id"]
