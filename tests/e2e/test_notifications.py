"""The notification API through the local stack, with tokens from the emulator's real endpoints."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from azure.identity import ManagedIdentityCredential

from tests.e2e.problems import problem
from tests.e2e.stack import Stack, start_host

API = "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/.default"


class Caller:
    """Sends requests to the API as one identity (or none)."""

    def __init__(self, base_url: str, token: str | None) -> None:
        self.base_url, self.token = base_url, token

    def __call__(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return requests.request(method, f"{self.base_url}{path}", headers=headers, timeout=30, **kwargs)

    def create(self, recipient: str, title: str = "hello", key: str | None = None, **extra) -> requests.Response:
        headers = {"Idempotency-Key": key} if key else {}
        return self(
            "POST",
            "/notifications",
            json={"recipient": recipient, "title": title, "body": "b", **extra},
            headers=headers,
        )


@pytest.fixture
def as_(stack: Stack, monkeypatch):
    """as_("caller-app") / as_("build-agents") (managed identities), as_("alice") (a user), as_(None)."""
    stack.emulator.activate(monkeypatch)

    def caller(who: str | None, scope: str = API) -> Caller:
        if who is None:
            return Caller(stack.base_url, None)
        if who in stack.emulator.directory["users"]:
            return Caller(stack.base_url, stack.emulator.user_token(who, scope))
        client_id = None if who == "caller-app" else stack.emulator.identity(who)["clientId"]
        return Caller(stack.base_url, ManagedIdentityCredential(client_id=client_id).get_token(scope).token)

    return caller


def recipient() -> str:
    """An object id of nobody in particular: a fresh mailbox."""
    return str(uuid.uuid4())


# -- the authorization matrix ------------------------------------------------------------------


def test_no_token_and_wrong_audience_are_401(as_) -> None:
    no_token = as_(None)("GET", "/notifications")
    problem(no_token, 401)
    assert no_token.headers["WWW-Authenticate"] == "Bearer"
    wrong = as_("caller-app", scope="api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/.default")(
        "GET", "/notifications"
    )
    assert problem(wrong, 401)["detail"] == "token is for another audience"


def test_app_with_read_lists_but_cannot_create(as_) -> None:
    reader = as_("caller-app")
    assert reader("GET", "/notifications").status_code == 200
    refused = problem(reader.create(recipient()), 403)
    assert refused["missing"] == ["app role notification.create"]


def test_app_with_create_creates_but_cannot_read(as_) -> None:
    writer = as_("build-agents")
    created = writer.create(recipient(), title="from the build agents")
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["Location"] == f"{writer.base_url}/notifications/{body['id']}"
    assert body["status"] == "pending"
    assert body["title"] == "from the build agents"
    assert problem(writer("GET", f"/notifications/{body['id']}"), 403)["missing"] == ["app role notification.read"]


def test_users_see_and_ack_only_their_own(as_, stack: Stack) -> None:
    alice_oid = stack.emulator.user("alice")["id"]
    writer = as_("build-agents")
    for_alice = writer.create(alice_oid.upper()).json()  # a GUID in either letter case: one mailbox
    for_alice_again = writer.create(alice_oid).json()
    assert for_alice["recipient"] == alice_oid
    for_carol = writer.create(stack.emulator.user("carol")["id"]).json()
    alice = as_("alice")
    listed = {n["id"] for n in alice("GET", "/notifications", params={"top": 100}).json()["items"]}
    assert {for_alice["id"], for_alice_again["id"]} <= listed
    assert for_carol["id"] not in listed
    assert alice("GET", f"/notifications/{for_alice['id']}").status_code == 200
    problem(alice("GET", f"/notifications/{for_carol['id']}"), 404)
    problem(alice("POST", f"/notifications/{for_carol['id']}/ack"), 404)
    assert alice("POST", f"/notifications/{for_alice['id']}/ack").json()["status"] == "acknowledged"
    # Apps with the role see everyone's; alice's refused ack changed nothing of carol's.
    seen_by_app = as_("caller-app")("GET", f"/notifications/{for_carol['id']}")
    assert seen_by_app.status_code == 200
    assert seen_by_app.json()["status"] == "pending"


def test_user_needs_the_role_not_only_the_scope(as_) -> None:
    # alice's token carries the Notifications.Create scope (pre-authorized) but she lacks the role.
    refused = problem(as_("alice").create(recipient()), 403)
    assert refused["missing"] == ["user role notification.create"]
    assert as_("carol").create(recipient()).status_code == 201  # the role through her group


def test_a_token_without_roles_or_scopes_is_401(as_, stack: Stack) -> None:
    now = int(time.time())
    identity = stack.emulator.identity("obo-proxy-identity")
    token = stack.emulator.mint(
        {
            "aud": "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api",
            "iss": f"https://sts.windows.net/{stack.emulator.tenant}/",
            "tid": stack.emulator.tenant,
            "oid": identity["principalId"],
            "appid": identity["clientId"],
            "ver": "1.0",
            "iat": now,
            "nbf": now,
            "exp": now + 600,
        }
    )
    refused = problem(Caller(stack.base_url, token)("GET", "/notifications"), 401)
    assert refused["detail"] == "token has neither roles nor scp"


# -- input -------------------------------------------------------------------------------------


def test_input_is_validated_field_by_field(as_) -> None:
    writer = as_("build-agents")
    bad = problem(writer("POST", "/notifications", json={"recipient": "", "title": "x" * 201, "extra": 1}), 400)
    assert {(e["pointer"], e["detail"]) for e in bad["errors"]} == {
        ("#/extra", "unknown field"),
        ("#/recipient", "required, a non-empty string"),
        ("#/title", "at most 200 characters"),
        ("#/body", "required, a non-empty string"),
    }
    problem(writer("POST", "/notifications", data="recipient=x"), 415)
    problem(writer("POST", "/notifications", data=b"{", headers={"Content-Type": "application/json"}), 400)
    huge = json.dumps({"recipient": "r", "title": "t", "body": "x" * 70_000})
    problem(writer("POST", "/notifications", data=huge, headers={"Content-Type": "application/json"}), 413)
    reader = as_("caller-app")
    problem(reader("GET", "/notifications", params={"top": 101}), 400)
    problem(reader("GET", "/notifications", params={"status": "deleted"}), 400)
    problem(reader("GET", "/notifications", params={"pageToken": "!!"}), 400)
    problem(reader("GET", "/notifications/not-an-id"), 404)


# -- idempotency, paging, acknowledgement races ------------------------------------------------


def test_concurrent_retries_with_one_key_create_one_notification(as_) -> None:
    writer, to, key = as_("build-agents"), recipient(), f"retry-{uuid.uuid4()}"
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: writer.create(to, key=key), range(8)))
    assert [r.status_code for r in responses] == [201] * 8
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") != "true" for r in responses) == 1
    listed = [
        n
        for n in as_("caller-app")("GET", "/notifications", params={"top": 100}).json()["items"]
        if n["recipient"] == to
    ]
    assert len(listed) <= 1  # (it may sit on a later page; never twice)
    problem(writer.create(to, title="something else", key=key), 422)


def test_paging_visits_every_notification_once(as_) -> None:
    writer, to = as_("build-agents"), recipient()
    created = [writer.create(to, title=f"n{i}").json()["id"] for i in range(7)]
    reader, seen, token, pages = as_("caller-app"), [], None, 0
    while True:
        params = {"top": 3, **({"pageToken": token} if token else {})}
        page = reader("GET", "/notifications", params=params).json()
        assert len(page["items"]) <= 3
        seen += [n["id"] for n in page["items"]]
        pages += 1
        token = page["nextPageToken"]
        if not token:
            break
    assert len(seen) == len(set(seen))
    assert set(created) <= set(seen)
    assert pages >= 3


def test_status_filter(as_) -> None:
    writer, reader = as_("build-agents"), as_("caller-app")
    done = writer.create(recipient()).json()["id"]
    reader("POST", f"/notifications/{done}/ack")
    page = reader("GET", "/notifications", params={"status": "pending", "top": 100}).json()
    pending = {n["id"] for n in page["items"]}
    assert done not in pending


def test_racing_acks_change_the_state_once(as_) -> None:
    notification = as_("build-agents").create(recipient()).json()["id"]
    reader = as_("caller-app")
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: reader("POST", f"/notifications/{notification}/ack"), range(8)))
    assert [r.status_code for r in responses] == [200] * 8
    assert sum(r.headers["X-Acknowledged-Now"] == "true" for r in responses) == 1
    assert len({r.json()["acknowledgedAt"] for r in responses}) == 1


# -- failure -----------------------------------------------------------------------------------


def test_storage_down_is_503_with_retry_after(managed: Stack, as_, tmp_path) -> None:
    dead = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey="
        + "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
        + "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;"
    )
    host, base = start_host(tmp_path, managed.host_env(NotificationStorage=dead))
    try:
        writer = Caller(base, as_("build-agents").token)
        started = time.monotonic()
        response = writer.create(recipient())
        assert time.monotonic() - started < 30  # answered, not hung (generous: this is not a speed test)
        problem(response, 503)
        assert response.headers["Retry-After"] == "5"
        problem(Caller(base, as_("caller-app").token)("GET", "/notifications"), 503)
    finally:
        host.stop()


def test_a_host_killed_mid_writes_loses_nothing_it_acknowledged(managed: Stack, as_, tmp_path) -> None:
    import signal

    token = as_("build-agents").token
    host, base = start_host(tmp_path, managed.host_env())
    to, acknowledged = recipient(), []

    def write(i: int) -> None:
        try:
            response = Caller(base, token).create(to, title=f"w{i}")
        except requests.RequestException:
            return  # cut off: not acknowledged, may or may not exist
        if response.status_code == 201:
            acknowledged.append(response.json()["id"])

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(write, i) for i in range(200)]
        deadline = time.monotonic() + 60
        while len(acknowledged) < 20 and time.monotonic() < deadline and not all(f.done() for f in futures):
            time.sleep(0.01)
        host.popen.send_signal(signal.SIGKILL)
        for future in futures:
            future.result()
    host.stop()
    assert 20 <= len(acknowledged) < 200
    restarted, base = start_host(tmp_path, managed.host_env())
    try:
        reader = Caller(base, as_("caller-app").token)
        for notification_id in acknowledged:
            assert reader("GET", f"/notifications/{notification_id}").status_code == 200, notification_id
    finally:
        restarted.stop()
