"""On-behalf-of through the local stack: the user's own permissions decide, and no secret is used."""

from __future__ import annotations

import time
import uuid

import pytest
import requests
from azure.identity import ManagedIdentityCredential

from tests.e2e.problems import problem
from tests.e2e.stack import Stack, start_host, start_stack
from tests.emulator_process import variant_directory

PROXY_SCOPE = "api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/access_as_user"
API = "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/.default"


def as_user(stack: Stack, user: str) -> dict:
    return {"Authorization": f"Bearer {stack.emulator.user_token(user, PROXY_SCOPE)}"}


@pytest.fixture
def writer(stack: Stack, monkeypatch) -> dict:
    stack.emulator.activate(monkeypatch)
    credential = ManagedIdentityCredential(client_id=stack.emulator.identity("build-agents")["clientId"])
    return {"Authorization": f"Bearer {credential.get_token(API).token}"}


def test_alice_sees_only_her_own(stack: Stack, writer: dict) -> None:
    users = stack.emulator.directory["users"]
    mine = requests.post(
        f"{stack.base_url}/notifications",
        headers=writer,
        timeout=30,
        json={"recipient": users["alice"]["id"], "title": f"for alice {uuid.uuid4()}", "body": "b"},
    ).json()
    theirs = requests.post(
        f"{stack.base_url}/notifications",
        headers=writer,
        timeout=30,
        json={"recipient": users["carol"]["id"], "title": "for carol", "body": "b"},
    ).json()
    listed = requests.get(
        f"{stack.base_url}/obo/notifications", params={"top": 100}, headers=as_user(stack, "alice"), timeout=30
    )
    assert listed.status_code == 200, listed.text
    ids = {n["id"] for n in listed.json()["items"]}
    assert mine["id"] in ids
    assert theirs["id"] not in ids
    assert all(n["recipient"] == users["alice"]["id"] for n in listed.json()["items"])


def test_the_users_own_roles_decide(stack: Stack) -> None:
    body = {"recipient": str(uuid.uuid4()), "title": "t", "body": "b"}
    refused = problem(
        requests.post(f"{stack.base_url}/obo/notifications", json=body, headers=as_user(stack, "alice"), timeout=30),
        403,
    )
    assert refused["missing"] == ["user role notification.create"]  # the API's reason, passed through
    created = requests.post(
        f"{stack.base_url}/obo/notifications", json=body, headers=as_user(stack, "carol"), timeout=30
    )
    assert created.status_code == 201, created.text  # carol's role comes through notification-admins
    assert created.json()["createdBy"] == stack.emulator.user("carol")["id"]


def test_unassigned_user_is_403(stack: Stack) -> None:
    refused = problem(
        requests.get(f"{stack.base_url}/obo/notifications", headers=as_user(stack, "bob"), timeout=30), 403
    )
    assert "AADSTS50105" in refused["detail"]
    assert refused["title"] == "Not assigned"


def test_the_proxy_logs_codes_and_ids_never_user_names(managed: Stack) -> None:
    """Entra's AADSTS50105 text quotes the user's UPN; the proxy's log keeps the code and the oid."""
    bob = managed.emulator.user("bob")
    response = requests.get(f"{managed.base_url}/obo/notifications", headers=as_user(managed, "bob"), timeout=30)
    assert response.status_code == 403
    deadline = time.monotonic() + 10
    while "AADSTS50105" not in "".join(managed.process.output) and time.monotonic() < deadline:
        time.sleep(0.1)
    logged = "".join(managed.process.output) + managed.process.log_text()
    refused = [line for line in logged.splitlines() if "on-behalf-of refused: AADSTS50105" in line]
    assert refused
    assert all(bob["id"] in line for line in refused)
    assert bob["userPrincipalName"].lower() not in logged.lower()


def test_app_only_tokens_other_audiences_and_expired_are_401(stack: Stack, monkeypatch) -> None:
    stack.emulator.activate(monkeypatch)
    app_token = (
        ManagedIdentityCredential().get_token("api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/.default").token
    )
    # The proxy defines no app role, so an app's token for it carries neither roles nor scp: nothing to authorize.
    refused = problem(
        requests.get(
            f"{stack.base_url}/obo/notifications", headers={"Authorization": f"Bearer {app_token}"}, timeout=30
        ),
        401,
    )
    assert refused["detail"] == "token has neither roles nor scp"
    for_the_api = stack.emulator.user_token("alice", API)
    wrong = requests.get(
        f"{stack.base_url}/obo/notifications", headers={"Authorization": f"Bearer {for_the_api}"}, timeout=30
    )
    assert problem(wrong, 401)["detail"] == "token is for another audience"
    now = int(time.time())
    alice = stack.emulator.user("alice")
    expired = stack.emulator.mint(
        {
            "aud": stack.emulator.app_id("obo-proxy"),
            "iss": f"{stack.emulator.authority}/v2.0",
            "ver": "2.0",
            "tid": stack.emulator.tenant,
            "oid": alice["id"],
            "azp": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
            "scp": "access_as_user",
            "preferred_username": alice["userPrincipalName"],
            "iat": now - 7200,
            "nbf": now - 7200,
            "exp": now - 3600,
        }
    )
    late = requests.get(
        f"{stack.base_url}/obo/notifications", headers={"Authorization": f"Bearer {expired}"}, timeout=30
    )
    assert problem(late, 401)["detail"] == "token expired"


def test_secretless_by_default(stack: Stack) -> None:
    assert (
        requests.get(f"{stack.base_url}/obo/notifications", headers=as_user(stack, "carol"), timeout=30).status_code
        == 200
    )
    stats = stack.emulator.stats()
    assert stats["client_auth:federated:obo-proxy-identity"] >= 1
    assert not [key for key in stats if key.startswith("client_auth:secret")]


def test_secret_fallback_works_and_shows_in_the_log(managed: Stack, tmp_path) -> None:
    secret = managed.emulator.new_secret("obo-proxy")
    host, base = start_host(
        tmp_path,
        managed.host_env(
            APPS="obo_proxy",
            NOTIFICATION_API_URL=managed.base_url,
            OBO_MANAGED_IDENTITY_CLIENT_ID="",
            OBO_CLIENT_SECRET=secret,
        ),
    )
    try:
        before = managed.emulator.stats().get("client_auth:secret:obo-proxy", 0)
        assert (
            requests.get(f"{base}/obo/notifications", headers=as_user(managed, "alice"), timeout=30).status_code == 200
        )
        assert managed.emulator.stats()["client_auth:secret:obo-proxy"] == before + 1
        assert "OBO_CLIENT_SECRET" in host.log_text()
    finally:
        host.stop()


def test_location_points_at_the_api_when_the_proxy_is_deployed_alone(managed: Stack, tmp_path, monkeypatch) -> None:
    """APPS=obo_proxy on a host of its own: the new notification's URL is on the API's host."""
    host, base = start_host(tmp_path, managed.host_env(APPS="obo_proxy", NOTIFICATION_API_URL=managed.base_url))
    try:
        body = {"recipient": str(uuid.uuid4()), "title": "t", "body": "b"}
        created = requests.post(f"{base}/obo/notifications", json=body, headers=as_user(managed, "carol"), timeout=30)
        assert created.status_code == 201, created.text
        location = created.headers["Location"]
        assert location == f"{managed.base_url}/notifications/{created.json()['id']}"
        assert not location.startswith(base)
        managed.emulator.activate(monkeypatch)
        reader = {"Authorization": f"Bearer {ManagedIdentityCredential().get_token(API).token}"}  # caller-app
        followed = requests.get(location, headers=reader, timeout=30)
        assert followed.status_code == 200, followed.text
        assert followed.json()["id"] == created.json()["id"]
    finally:
        host.stop()


def test_unavailable_identity_or_api_is_503(managed: Stack, tmp_path) -> None:
    for overrides in (
        {"IDENTITY_ENDPOINT": "https://localhost:9/msi/token"},
        {"NOTIFICATION_API_URL": "http://127.0.0.1:9/api"},
    ):
        env = managed.host_env(APPS="obo_proxy", **{"NOTIFICATION_API_URL": managed.base_url, **overrides})
        host, base = start_host(tmp_path, env)
        try:
            response = requests.get(f"{base}/obo/notifications", headers=as_user(managed, "alice"), timeout=60)
            problem(response, 503)
            assert response.headers["Retry-After"]
        finally:
            host.stop()


def _not_pre_authorized(data: dict) -> None:
    api = data["applications"]["notification-api"]
    proxy_id = data["applications"]["obo-proxy"]["appId"]
    api["preAuthorizedApplications"] = [p for p in api["preAuthorizedApplications"] if p["appId"] != proxy_id]


def test_consent_challenge_then_one_exchange_for_twenty_calls(tmp_path) -> None:
    """Own stack on a directory where nobody consented to the proxy calling the API."""
    stack = start_stack(tmp_path / "stack", "--directory", str(variant_directory(tmp_path, _not_pre_authorized)))
    try:
        alice = as_user(stack, "alice")
        refused = requests.get(f"{stack.base_url}/obo/notifications", headers=alice, timeout=30)
        body = problem(refused, 403)
        proxy_id = stack.emulator.app_id("obo-proxy")
        challenge = refused.headers["WWW-Authenticate"]
        assert challenge.startswith('Bearer error="insufficient_scope"')
        assert f'client_id="{proxy_id}"' in challenge
        assert 'consent_uri="' in challenge
        assert body["clientId"] == proxy_id
        assert body["scopes"] == [API]
        assert body["consentUri"].startswith(f"{stack.emulator.authority}/oauth2/v2.0/authorize?client_id={proxy_id}")
        # An admin grants consent (pre-authorizing the proxy on the API does the same).
        stack.emulator.admin(
            "POST",
            "grants",
            json={
                "clientAppId": proxy_id,
                "resource": "notification-api",
                "scopes": ["Notifications.Read", "Notifications.Create"],
            },
        )
        # Same token: MSAL repeats the refused answer from its 60-second HTTP cache, without asking Entra.
        problem(requests.get(f"{stack.base_url}/obo/notifications", headers=alice, timeout=30), 403)
        alice = as_user(stack, "alice")  # signing in again gives a new token, and a new request
        before = stack.emulator.stats().get("obo:obo-proxy", 0)
        for _ in range(20):
            assert requests.get(f"{stack.base_url}/obo/notifications", headers=alice, timeout=30).status_code == 200
        assert stack.emulator.stats()["obo:obo-proxy"] - before == 1  # MSAL's cache served the other 19
    finally:
        stack.process.stop()
