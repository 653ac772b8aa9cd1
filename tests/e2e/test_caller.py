"""The caller app through real processes: managed identity to the API, Key Vault, the timer, the tool."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import subprocess
import sys
import uuid

import pytest
import requests
from azure.identity import ManagedIdentityCredential

from tests.e2e.problems import problem
from tests.e2e.stack import Stack, start_host, start_stack
from tests.e2e.stubs import StubServer, json_answer
from tests.processes import ROOT

API = "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/.default"
SECRET_NAME = "webhook-signing-key"


def caller_host(stack: Stack, tmp_path, **env: str):
    return start_host(tmp_path, stack.host_env(APPS="caller_app", NOTIFICATION_API_URL=stack.base_url, **env))


def new_notification() -> dict:
    return {"recipient": str(uuid.uuid4()), "title": "t", "body": "b"}


def test_system_identity_reads_but_may_not_create(stack: Stack) -> None:
    listed = requests.get(f"{stack.base_url}/caller/notifications", timeout=30)
    assert listed.status_code == 200
    assert isinstance(listed.json()["items"], list)
    refused = problem(requests.post(f"{stack.base_url}/caller/notifications", json=new_notification(), timeout=30), 403)
    caller = stack.emulator.identity("caller-app")
    assert refused["missing"] == ["app role notification.create"]
    assert refused["identity"]["appId"] == caller["clientId"]
    assert refused["identity"]["objectId"] == caller["principalId"]
    assert caller["principalId"] in refused["detail"]
    assert any("24 hours" in fix for fix in refused["fix"])
    # The fix names this identity exactly: the emulator command it suggests runs as written.
    suggested = re.search(
        r"python -m emulator assign (--principal [^ ]+ --resource [^ ]+ --role [\w.]+)", " ".join(refused["fix"])
    )
    assert suggested, refused["fix"]
    assert suggested.group(1).split()[1] == caller["principalId"]
    for verb in ("assign", "unassign"):
        command = [sys.executable, "-m", "emulator", "--state-dir", str(stack.emulator.state_dir), verb]
        ran = subprocess.run([*command, *suggested.group(1).split()], cwd=ROOT, capture_output=True, text=True)
        assert ran.returncode == 0, ran.stderr
        assert f"{caller['principalId']} {verb}ed: notification.create" in ran.stdout, ran.stdout


def test_user_assigned_identity_creates(managed: Stack, tmp_path) -> None:
    host, base = caller_host(managed, tmp_path, AZURE_CLIENT_ID=managed.emulator.identity("build-agents")["clientId"])
    try:
        created = requests.post(f"{base}/caller/notifications", json=new_notification(), timeout=30)
        assert created.status_code == 201, created.text
        assert created.json()["createdBy"] == managed.emulator.identity("build-agents")["principalId"]
    finally:
        host.stop()


def test_key_vault_read_and_refusal(managed: Stack, tmp_path) -> None:
    secret = requests.get(f"{managed.base_url}/caller/secret", timeout=30)
    assert secret.status_code == 200
    assert secret.json()["name"] == SECRET_NAME
    assert "value" not in secret.json()
    assert len(secret.json()["version"]) == 32
    host, base = caller_host(managed, tmp_path, AZURE_CLIENT_ID=managed.emulator.identity("build-agents")["clientId"])
    try:
        refused = problem(requests.get(f"{base}/caller/secret", timeout=30), 403)
        assert "Key Vault refused" in refused["detail"]
        assert "Key Vault Secrets User" in refused["fix"][0]
    finally:
        host.stop()


def test_unreachable_emulator_is_503_not_a_hang(managed: Stack, tmp_path) -> None:
    dead = "https://localhost:9"
    host, base = caller_host(managed, tmp_path, IDENTITY_ENDPOINT=f"{dead}/msi/token", KEY_VAULT_URL=f"{dead}/")
    try:
        for path in ("/caller/secret", "/caller/notifications"):
            response = requests.get(f"{base}{path}", timeout=60)
            problem(response, 503)
            assert response.headers["Retry-After"]
    finally:
        host.stop()


def test_retries_503_then_succeeds_and_retries_401_once(managed: Stack, tmp_path) -> None:
    answers = iter(
        [
            json_answer(503, {"detail": "busy"}, **{"Retry-After": "1"}),
            json_answer(200, {"items": [{"id": "x"}], "nextPageToken": None}),
            json_answer(401, {"detail": "token expired"}),
            json_answer(200, {"items": [], "nextPageToken": None}),
        ]
        + [json_answer(401, {"detail": "nope"})] * 5
    )
    stub = StubServer(lambda *_: next(answers))
    host, base = start_host(tmp_path, managed.host_env(APPS="caller_app", NOTIFICATION_API_URL=stub.url))
    try:
        first = requests.get(f"{base}/caller/notifications", timeout=60)
        assert first.status_code == 200
        assert first.json()["items"] == [{"id": "x"}]
        assert len(stub.requests) == 2  # 503, then the retry
        second = requests.get(f"{base}/caller/notifications", timeout=60)
        assert second.status_code == 200
        assert len(stub.requests) == 4  # 401, then once with a fresh token
        third = requests.get(f"{base}/caller/notifications", timeout=60)
        problem(third, 502)
        assert len(stub.requests) == 6  # 401 twice: never a loop
        assert all(r["headers"]["Authorization"].startswith("Bearer ") for r in stub.requests)
    finally:
        host.stop()
        stub.stop()


def test_timer_delivers_signed_acknowledges_and_keeps_failures_pending(managed: Stack, tmp_path, monkeypatch) -> None:
    secret = managed.emulator.directory["keyVaults"]["notifications-kv"]["secrets"][SECRET_NAME]
    managed.emulator.activate(monkeypatch)
    writer = ManagedIdentityCredential(client_id=managed.emulator.identity("build-agents")["clientId"])
    headers = {"Authorization": f"Bearer {writer.get_token(API).token}"}
    good, bad = (
        requests.post(f"{managed.base_url}/notifications", json=new_notification(), headers=headers, timeout=30).json()[
            "id"
        ]
        for _ in range(2)
    )
    bad_signatures = []

    def receive(method, path, request_headers, body):
        expected = (
            "sha256="
            + hmac.new(
                secret.encode(), request_headers["X-Signature-Timestamp"].encode() + b"." + body, hashlib.sha256
            ).hexdigest()
        )
        if not hmac.compare_digest(expected, request_headers["X-Signature"]):
            bad_signatures.append(request_headers["X-Notification-Id"])
            return 401, {}, b""
        return (500, {}, b"") if request_headers["X-Notification-Id"] == bad else (204, {}, b"")

    receiver = StubServer(receive)
    host, base = caller_host(managed, tmp_path, DELIVERY_WEBHOOK_URL=f"{receiver.url}/hook")
    try:
        run = requests.post(base.replace("/api", "/admin/functions/deliver_pending"), json={}, timeout=120)
        assert run.status_code == 202
    finally:
        host.stop()
        receiver.stop()
    delivered_ids = {r["headers"]["X-Notification-Id"] for r in receiver.requests}
    assert {good, bad} <= delivered_ids
    assert bad_signatures == []
    assert (
        json.loads(next(r["body"] for r in receiver.requests if r["headers"]["X-Notification-Id"] == good))["id"]
        == good
    )
    reader = {"Authorization": f"Bearer {ManagedIdentityCredential().get_token(API).token}"}
    status = {
        i: requests.get(f"{managed.base_url}/notifications/{i}", headers=reader, timeout=30).json()["status"]
        for i in (good, bad)
    }
    assert status == {good: "acknowledged", bad: "pending"}


def run_tool(stack: Stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "caller_app.get_token", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**stack.host_env(), "PATH": "/usr/bin:/bin"},
    )


def test_token_tool_for_caller_app_and_build_agents(managed: Stack) -> None:
    table = run_tool(managed, "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api")
    assert table.returncode == 0, table.stderr
    assert "roles" in table.stdout
    assert "notification.read" in table.stdout
    assert "left)" in table.stdout
    assert "v1 token" in table.stdout
    assert "App ID URI" in table.stdout
    build_agents = managed.emulator.identity("build-agents")["clientId"]
    described = json.loads(
        run_tool(managed, managed.emulator.app_id("notification-api"), "--client-id", build_agents, "--json").stdout
    )
    assert described["claims"]["roles"] == ["notification.create"]
    assert described["claims"]["aud"] == managed.emulator.app_id("notification-api")
    assert any("aud is the app id" in note for note in described["diagnosis"])
    raw = run_tool(managed, "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api", "--raw").stdout.strip()
    assert raw.count(".") == 2
    assert "\n" not in raw


def test_cache_trap_and_the_case_change_workaround(tmp_path) -> None:
    """Own stack: the run-time role change must not leak into other tests."""
    stack = start_stack(tmp_path / "stack")
    try:
        emulator = stack.emulator
        for _ in range(5):
            assert requests.get(f"{stack.base_url}/caller/notifications", timeout=30).status_code == 200
        assert emulator.stats()["msi:caller-app"] == 1  # one credential per process: one endpoint hit
        assert (
            requests.post(f"{stack.base_url}/caller/notifications", json=new_notification(), timeout=30).status_code
            == 403
        )
        emulator.admin(
            "POST",
            "assignments",
            json={"principal": "caller-app", "resource": "notification-api", "role": "notification.create"},
        )
        still = requests.post(f"{stack.base_url}/caller/notifications", json=new_notification(), timeout=30)
        assert still.status_code == 403  # the cached token has no new role
        # The tool, asking with one letter's case changed, shows the role...
        described = json.loads(
            run_tool(stack, "api://7812c330-acf6-4d59-acac-aae48e763f41/Notification-API", "--json").stdout
        )
        assert "notification.create" in described["claims"]["roles"]
        assert described["claims"]["aud"] == "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api"
        # ... and so does the plain tool output, explaining the trap for the cached spelling.
        cached = run_tool(
            stack, "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api", "--expect", "notification.create"
        ).stdout
        assert "NOT in this token" in cached
        assert "api://7812c330-acf6-4d59-acac-aae48e763f41/Notification-api" in cached
        # A caller configured with that spelling gets through.
        host, base = caller_host(
            stack,
            tmp_path,
            NOTIFICATION_API_SCOPE="api://7812c330-acf6-4d59-acac-aae48e763f41/Notification-API/.default",
        )
        try:
            assert requests.post(f"{base}/caller/notifications", json=new_notification(), timeout=30).status_code == 201
        finally:
            host.stop()
    finally:
        stack.process.stop()


@pytest.fixture(autouse=True)
def _no_machine_ca(monkeypatch) -> None:
    """The tool subprocess gets the stack's CA bundle from host_env(); nothing else may override it."""
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
