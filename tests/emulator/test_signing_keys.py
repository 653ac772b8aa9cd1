"""Signing-key rollover as Entra does it: keys published before use, a new signing key, a key withdrawn
(at once, in an emergency), over the admin API and the CLI, read back with PyJWT and azure-identity.

These tests roll the keys of an emulator of their own (its state folder holds the keys), so the
session's emulator keeps signing with one key."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from azure.identity import ManagedIdentityCredential

from tests.emulator_process import DIRECTORY, EmulatorProcess

KEY_SETS = ("discovery/v2.0/keys", "discovery/keys")
_APPS = json.loads(DIRECTORY.read_text())["applications"]
API = f"{_APPS['notification-api']['identifierUris'][0]}/.default"  # App ID URIs from directory.json
PROXY = f"{_APPS['obo-proxy']['identifierUris'][0]}/access_as_user"


@pytest.fixture(scope="module")
def rolling(emulator: EmulatorProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    process = EmulatorProcess(tmp_path_factory.mktemp("rolling") / "state", share_tls_with=emulator)
    yield process
    process.stop()


@pytest.fixture
def on_rolling(rolling: EmulatorProcess, monkeypatch: pytest.MonkeyPatch) -> EmulatorProcess:
    """azure-identity and PyJWT talk to the rolling emulator in this test."""
    rolling.activate(monkeypatch)
    rolling.reset()
    return rolling


def published(emulator: EmulatorProcess, key_set: str = KEY_SETS[0]) -> dict[str, dict]:
    response = emulator.session.get(f"{emulator.authority}/{key_set}", timeout=10)
    response.raise_for_status()
    return {key["kid"]: key for key in response.json()["keys"]}


def signing(emulator: EmulatorProcess) -> str:
    (kid,) = [k["kid"] for k in emulator.admin("GET", "keys")["keys"] if k["signing"]]
    return kid


def header(token: str) -> dict:
    return jwt.get_unverified_header(token)


def verifies(emulator: EmulatorProcess, token: str) -> bool:
    """Does the token verify against the emulator's published keys, as PyJWKClient finds them?"""
    client = jwt.PyJWKClient(f"{emulator.authority}/{KEY_SETS[0]}", cache_jwk_set=False)
    try:
        jwt.decode(token, client.get_signing_key_from_jwt(token).key, algorithms=["RS256"], audience=None,
                   options={"verify_aud": False})  # fmt: skip
    except (jwt.PyJWKClientError, jwt.InvalidTokenError):
        return False
    return True


def test_a_new_key_is_published_in_every_key_set_before_it_signs(on_rolling: EmulatorProcess) -> None:
    before = signing(on_rolling)
    added = on_rolling.admin("POST", "keys", json={})["added"]
    for key_set in KEY_SETS:
        keys = published(on_rolling, key_set)
        assert set(keys) >= {before, added}
        new = keys[added]
        assert new["x5t"] == added
        assert new["x5c"]
        assert new["kty"] == "RSA"
        assert new["use"] == "sig"
    assert "issuer" in published(on_rolling)[added]  # v2 key sets carry the issuer property
    assert header(on_rolling.user_token("alice", API))["kid"] == before


def test_use_signs_new_tokens_v1_with_x5t_and_kid_v2_with_kid_only(on_rolling: EmulatorProcess) -> None:
    old_token = on_rolling.user_token("alice", API)
    added = on_rolling.admin("POST", "keys", json={})["added"]
    assert on_rolling.admin("POST", "keys/signing", json={"kid": added})["signing"] == added
    v1 = header(on_rolling.user_token("alice", API))
    v2 = header(on_rolling.user_token("alice", PROXY))
    assert (v1["kid"], v1["x5t"]) == (added, added)
    assert v2["kid"] == added
    assert "x5t" not in v2
    assert verifies(on_rolling, old_token)  # the old key is still published: its tokens still verify


def test_a_retired_key_leaves_the_key_sets_and_its_tokens_are_refused(on_rolling: EmulatorProcess) -> None:
    old_kid = signing(on_rolling)
    vault_token = ManagedIdentityCredential().get_token("https://vault.azure.net/.default").token
    on_rolling.admin("POST", "keys/roll", json={})
    answer = on_rolling.admin("DELETE", "keys", json={"kid": old_kid})
    assert answer["retired"] == old_kid
    for key_set in KEY_SETS:
        assert old_kid not in published(on_rolling, key_set)
    assert not verifies(on_rolling, vault_token)
    # Entra's own services refuse it too: Key Vault answers 401 to a token signed by a withdrawn key.
    secret = on_rolling.session.get(
        f"{on_rolling.origin}/secrets/webhook-signing-key?api-version=7.5",
        headers={"Authorization": f"Bearer {vault_token}"},
        timeout=10,
    )
    assert secret.status_code == 401


def test_the_signing_key_cannot_be_retired(on_rolling: EmulatorProcess) -> None:
    current = signing(on_rolling)
    response = on_rolling.session.delete(f"{on_rolling.origin}/admin/keys", json={"kid": current}, timeout=10)
    assert response.status_code == 400
    assert "roll --emergency" in response.json()["error"]
    unknown = on_rolling.session.post(f"{on_rolling.origin}/admin/keys/signing", json={"kid": "nope"}, timeout=10)
    assert unknown.status_code == 400
    assert current in published(on_rolling)


def test_an_emergency_roll_evicts_the_managed_identity_tokens_the_old_key_signed(
    on_rolling: EmulatorProcess,
) -> None:
    """Else the endpoint would hand the refused token back for a day (its cache lives 24 hours)."""
    first = ManagedIdentityCredential().get_token(API).token
    assert header(ManagedIdentityCredential().get_token(API).token) == header(first)
    assert on_rolling.stats()["msi:cache_hit"] == 1
    answer = on_rolling.admin("POST", "keys/roll", json={"emergency": True})
    assert answer["retired"] == header(first)["kid"]
    assert answer["evictedManagedIdentityTokens"] == 1
    after = ManagedIdentityCredential().get_token(API).token
    assert header(after)["kid"] == answer["signing"]
    assert verifies(on_rolling, after)
    assert not verifies(on_rolling, first)


def test_keys_survive_a_restart(emulator: EmulatorProcess, tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = EmulatorProcess(state, share_tls_with=emulator)
    try:
        old = first.user_token("alice", API)
        first.admin("POST", "keys/roll", json={})
        keys_before = first.admin("GET", "keys")["keys"]
    finally:
        first.stop()
    second = EmulatorProcess(state)
    try:
        assert second.admin("GET", "keys")["keys"] == keys_before
        assert verifies(second, old)  # issued before the restart, by a key still published
        assert (state / "signing-keys").stat().st_mode & 0o077 == 0
        assert all(p.stat().st_mode & 0o077 == 0 for p in (state / "signing-keys").glob("*.pem"))
    finally:
        second.stop()


def test_the_keys_command(rolling: EmulatorProcess) -> None:
    def keys(*args: str) -> str:
        command = [sys.executable, "-m", "emulator", "--state-dir", str(rolling.state_dir), "keys", *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    before = signing(rolling)
    added = keys("add").split()[1]
    assert f"{added}  published" in keys("list")
    assert f"signing {added}" in keys("use", added)
    assert f"retired {before}" in keys("retire", before)
    rolled = keys("roll", "--emergency")
    assert f"retired {added}" in rolled
    assert f"{signing(rolling)}  signing" in rolled
    refused = subprocess.run(
        [sys.executable, "-m", "emulator", "--state-dir", str(rolling.state_dir), "keys", "retire", signing(rolling)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0
    assert "use` another key first" in refused.stderr
    # Key ids are base64url: one may start with "-", and is still a key id, not an option.
    dashed = subprocess.run(
        [sys.executable, "-m", "emulator", "keys", "retire", "-Qx3made-up", "--state-dir", str(rolling.state_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "no published key '-Qx3made-up'" in dashed.stderr


def test_stats_count_requests_per_route_and_reset(on_rolling: EmulatorProcess) -> None:
    on_rolling.session.delete(f"{on_rolling.origin}/admin/stats", json={}, timeout=10).raise_for_status()
    published(on_rolling)
    published(on_rolling)
    published(on_rolling, KEY_SETS[1])
    stats = on_rolling.stats()
    assert stats["route:GET /{tenant}/discovery/v2.0/keys"] == 2
    assert stats["route:GET /{tenant}/discovery/keys"] == 1
    assert stats["jwks:fetch"] == 3
    reset = on_rolling.session.delete(f"{on_rolling.origin}/admin/stats", json={}, timeout=10).json()
    assert reset == {}
    # A reset of the counters is not a reset of the emulator: the keys stay as they are.
    assert len(on_rolling.admin("GET", "keys")["keys"]) >= 1


def test_the_key_routes_are_admin_routes(on_rolling: EmulatorProcess) -> None:
    """JSON only, and no other origin, like every admin route (the hostile-input tests cover the rest)."""
    url = f"{on_rolling.origin}/admin/keys/roll"
    form = on_rolling.session.post(url, data="emergency=true", timeout=10)
    assert form.status_code == 415
    foreign = on_rolling.session.post(url, json={}, headers={"Origin": "https://evil.example"}, timeout=10)
    assert foreign.status_code == 403
    assert on_rolling.session.post(url, json={"emergency": "yes"}, timeout=10).status_code == 400
