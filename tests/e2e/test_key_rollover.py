"""An emergency signing-key roll through the three apps, with the real clients: the caller's cached
managed identity token and the proxy's cached federated assertion, both signed by the withdrawn key,
fail once and are replaced; nothing else fails, and each app's validator fetches the keys once.

The keys roll on an emulator of this module's own (with a functions host of its own in front of it), so
the session's stack keeps its keys."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass

import jwt
import pytest
import requests

from tests.e2e.stack import Stack, start_host
from tests.emulator_process import EmulatorProcess
from tests.processes import ReadyProcess

KEYS_ROUTE = "route:GET /{tenant}/discovery/v2.0/keys"


@dataclass
class Rolling:
    emulator: EmulatorProcess
    host: ReadyProcess
    base_url: str

    def count(self, name: str) -> int:
        return int(self.emulator.stats().get(name, 0))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def rolling(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rolling]:
    if not stack.managed:
        pytest.skip("E2E_BASE_URL points at a stack this test run does not control")
    tmp = tmp_path_factory.mktemp("key-rollover")
    emulator = EmulatorProcess(tmp / "state")
    port = free_port()  # the caller calls the API in the same host: its URL is needed before the start
    env = stack.host_env(APPS="", NOTIFICATION_API_URL=f"http://localhost:{port}/api", **emulator.env)
    host, base_url = start_host(tmp, env, "--port", str(port))
    yield Rolling(emulator, host, base_url)
    host.stop()
    emulator.stop()


def uri(emulator: EmulatorProcess, application: str) -> str:
    """The application's App ID URI, from directory.json."""
    return str(emulator.directory["applications"][application]["identifierUris"][0])


def kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def test_an_emergency_roll_costs_each_cached_token_one_401_and_each_validator_one_fetch(rolling: Rolling) -> None:
    emulator, base = rolling.emulator, rolling.base_url
    proxy_scope = f"{uri(emulator, 'obo-proxy')}/access_as_user"
    # Before: each app has its keys and a cached token signed by the key that is about to go.
    assert requests.get(f"{base}/caller/notifications", timeout=60).status_code == 200
    alice_before = emulator.user_token("alice", proxy_scope)
    as_alice = {"Authorization": f"Bearer {alice_before}"}
    assert requests.get(f"{base}/obo/notifications", headers=as_alice, timeout=60).status_code == 200
    old_kid = kid(alice_before)

    emulator.admin("DELETE", "stats", json={})
    rolled = emulator.admin("POST", "keys/roll", json={"emergency": True})
    assert rolled["retired"] == old_kid
    assert rolled["evictedManagedIdentityTokens"] >= 2  # the caller's token for the API, the proxy's assertion

    # A token signed by the new key reaches the API: one key fetch, and the old key is gone.
    carol = emulator.user_token("carol", f"{uri(emulator, 'notification-api')}/.default")
    assert kid(carol) == rolled["signing"]
    listed = requests.get(f"{base}/notifications", headers={"Authorization": f"Bearer {carol}"}, timeout=60)
    assert listed.status_code == 200, listed.text
    assert rolling.count(KEYS_ROUTE) == 1

    # The caller still holds a token signed by the old key: the API refuses it, the bearer client asks
    # for a fresh one (one more managed identity request), and the call succeeds.
    assert requests.get(f"{base}/caller/notifications", timeout=60).status_code == 200
    assert rolling.count("msi:caller-app") == 1
    assert requests.get(f"{base}/caller/notifications", timeout=60).status_code == 200
    assert rolling.count("msi:caller-app") == 1  # the fresh token is cached again

    # Alice's own token died with the key: the proxy refuses it (it learns of the roll from her new one).
    alice_after = emulator.user_token("alice", proxy_scope)
    as_alice_now = {"Authorization": f"Bearer {alice_after}"}
    # Her new token: one key fetch by the proxy's validator; Entra refuses the proxy's cached assertion
    # (AADSTS700027), the proxy exchanges once more with a fresh one, and the call succeeds.
    listed = requests.get(f"{base}/obo/notifications", headers=as_alice_now, timeout=60)
    assert listed.status_code == 200, listed.text
    assert rolling.count("msi:obo-proxy-identity") == 1
    assert rolling.count("obo:obo-proxy") == 1
    assert requests.get(f"{base}/obo/notifications", headers=as_alice, timeout=60).status_code == 401
    assert rolling.count(KEYS_ROUTE) == 2  # the API's validator once, the proxy's once

    host_log = rolling.host.log_text()
    assert host_log.count("answered 401; retrying once with a fresh token") == 1
    assert host_log.count("Entra refused the cached client assertion") == 1
