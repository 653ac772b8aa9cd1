"""Key Vault through azure-keyvault-secrets' SecretClient: the challenge flow and RBAC."""

from __future__ import annotations

import time

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient

from tests.emulator_process import EmulatorProcess

SECRET = "webhook-signing-key"


def client(emulator: EmulatorProcess, credential=None) -> SecretClient:
    return SecretClient(
        emulator.env["KEY_VAULT_URL"], credential or ManagedIdentityCredential(), verify_challenge_resource=False
    )


def test_secrets_user_reads_the_secret(emulator: EmulatorProcess) -> None:
    secret = client(emulator).get_secret(SECRET)
    assert secret.value == emulator.directory["keyVaults"]["notifications-kv"]["secrets"][SECRET]
    assert secret.name == SECRET
    assert secret.properties.version is not None
    assert len(secret.properties.version) == 32
    assert client(emulator).get_secret(SECRET, secret.properties.version).value == secret.value
    assert emulator.stats()["keyvault:get"] == 2


def test_identity_without_the_role_is_forbidden(emulator: EmulatorProcess) -> None:
    build_agents = ManagedIdentityCredential(client_id=emulator.identity("build-agents")["clientId"])
    with pytest.raises(HttpResponseError) as raised:
        client(emulator, build_agents).get_secret(SECRET)
    assert raised.value.status_code == 403
    assert "ForbiddenByRbac" in str(raised.value)
    assert emulator.identity("build-agents")["principalId"] in str(raised.value)


def test_missing_secret_and_version(emulator: EmulatorProcess) -> None:
    with pytest.raises(ResourceNotFoundError):
        client(emulator).get_secret("no-such-secret")
    with pytest.raises(ResourceNotFoundError):
        client(emulator).get_secret(SECRET, "0" * 32)


def test_challenge_without_a_token(emulator: EmulatorProcess) -> None:
    response = emulator.session.get(f"{emulator.origin}/secrets/{SECRET}/", params={"api-version": "7.6"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        f'Bearer authorization="{emulator.authority}", resource="https://vault.azure.net"'
    )
    assert "AKV10000" in response.json()["error"]["message"]


def test_token_for_another_audience_is_refused(emulator: EmulatorProcess) -> None:
    wrong = (
        ManagedIdentityCredential()
        .get_token("api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/.default")
        .token
    )
    response = emulator.session.get(
        f"{emulator.origin}/secrets/{SECRET}",
        params={"api-version": "7.6"},
        headers={"Authorization": f"Bearer {wrong}"},
    )
    assert response.status_code == 401
    assert "AKV10022" in response.json()["error"]["message"]


def test_expired_and_foreign_tokens_are_refused(emulator: EmulatorProcess) -> None:
    now = int(time.time())
    oid = emulator.identity("caller-app")["principalId"]
    expired = emulator.mint(
        {
            "aud": "https://vault.azure.net",
            "iss": f"https://sts.windows.net/{emulator.tenant}/",
            "oid": oid,
            "iat": now - 7200,
            "exp": now - 3600,
        }
    )
    other = emulator.mint(
        {
            "aud": "https://vault.azure.net",
            "iss": "https://sts.windows.net/other/",
            "oid": oid,
            "iat": now,
            "exp": now + 3600,
        }
    )
    for token, text in ((expired, "expired"), (other, "AKV10032")):
        response = emulator.session.get(
            f"{emulator.origin}/secrets/{SECRET}",
            params={"api-version": "7.6"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 401
        assert text in response.json()["error"]["message"]


def test_user_not_in_secrets_users_is_forbidden(emulator: EmulatorProcess) -> None:
    token = emulator.user_token("alice", "https://vault.azure.net/.default")
    response = emulator.session.get(
        f"{emulator.origin}/secrets/{SECRET}",
        params={"api-version": "7.6"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 403
    assert response.json()["error"]["innererror"]["code"] == "ForbiddenByRbac"


def test_missing_api_version_is_a_clear_400(emulator: EmulatorProcess) -> None:
    response = emulator.session.get(f"{emulator.origin}/secrets/{SECRET}")
    assert response.status_code == 400
    assert "api-version" in response.json()["error"]["message"]
