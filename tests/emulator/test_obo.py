"""On-behalf-of through azure-identity's OnBehalfOfCredential: secretless and with a secret."""

from __future__ import annotations

import functools
import time

import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ManagedIdentityCredential, OnBehalfOfCredential
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.emulator_process import EmulatorProcess

API = "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/.default"
PROXY = "api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/access_as_user"
EXCHANGE = "api://AzureADTokenExchange/.default"


def obo(emulator: EmulatorProcess, user_assertion: str, secret: str | None = None) -> OnBehalfOfCredential:
    """The proxy's credential: by default it proves itself with obo-proxy-identity (no secret)."""
    credential = functools.partial(
        OnBehalfOfCredential,
        emulator.tenant,
        emulator.app_id("obo-proxy"),
        user_assertion=user_assertion,
        authority=emulator.origin,
        disable_instance_discovery=True,
    )
    if secret:
        return credential(client_secret=secret)
    identity = ManagedIdentityCredential(client_id=emulator.identity("obo-proxy-identity")["clientId"])
    return credential(client_assertion_func=lambda: identity.get_token(EXCHANGE).token)


def test_secretless_exchange_gives_the_user_token_for_the_api(emulator: EmulatorProcess, verify) -> None:
    alice = emulator.user_token("alice", PROXY)
    claims = verify(obo(emulator, alice).get_token(API).token)
    assert claims["aud"] == "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api"
    assert claims["ver"] == "1.0"
    assert claims["appid"] == emulator.app_id("obo-proxy")
    assert claims["appidacr"] == "2"
    assert claims["oid"] == emulator.user("alice")["id"]
    assert "idtyp" not in claims  # your API gets it only by configuring the optional claim
    assert claims["scp"] == "Notifications.Create Notifications.Read"
    assert claims["roles"] == ["notification.read"]  # the user's own roles decide
    stats = emulator.stats()
    assert stats["obo:obo-proxy"] == 1
    assert stats["client_auth:federated:obo-proxy-identity"] == 1
    assert not any(key.startswith("client_auth:secret") for key in stats)


def test_exchange_with_a_secret_fallback(emulator: EmulatorProcess, verify) -> None:
    secret = emulator.new_secret("obo-proxy")
    claims = verify(obo(emulator, emulator.user_token("carol", PROXY), secret).get_token(API).token)
    assert claims["roles"] == ["notification.create", "notification.read"]
    assert claims["appidacr"] == "1"
    assert emulator.stats()["client_auth:secret:obo-proxy"] == 1


def test_repeated_calls_are_served_from_msal_cache(emulator: EmulatorProcess) -> None:
    credential = obo(emulator, emulator.user_token("alice", PROXY))
    tokens = {credential.get_token(API).token for _ in range(5)}
    assert len(tokens) == 1
    assert emulator.stats()["obo:obo-proxy"] == 1


def test_response_carries_what_msal_needs_to_cache(emulator: EmulatorProcess) -> None:
    body = emulator.token_request(
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        requested_token_use="on_behalf_of",
        client_id=emulator.app_id("obo-proxy"),
        client_secret=emulator.new_secret("obo-proxy"),
        assertion=emulator.user_token("alice", PROXY),
        scope=f"{API} offline_access openid profile",
        client_info="1",
    ).json()
    assert {"access_token", "id_token", "client_info", "refresh_token", "expires_in", "scope"} <= body.keys()
    assert API in body["scope"].split()


def test_unassigned_user_is_aadsts50105(emulator: EmulatorProcess) -> None:
    with pytest.raises(ClientAuthenticationError, match="AADSTS50105"):
        obo(emulator, emulator.user_token("bob", PROXY)).get_token(API)


def test_assertion_for_another_audience_is_aadsts500131(emulator: EmulatorProcess) -> None:
    token_for_the_api = emulator.user_token("alice", API)
    with pytest.raises(ClientAuthenticationError, match="AADSTS500131"):
        obo(emulator, token_for_the_api).get_token(API)


def _alice_claims(emulator: EmulatorProcess, **changes) -> dict:
    now = int(time.time())
    claims = {
        "aud": emulator.app_id("obo-proxy"),
        "iss": f"{emulator.authority}/v2.0",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "oid": emulator.user("alice")["id"],
        "tid": emulator.tenant,
        "scp": "access_as_user",
        "azp": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        "ver": "2.0",
    }
    claims.update(changes)
    return claims


def test_expired_assertion_is_aadsts500133(emulator: EmulatorProcess) -> None:
    now = int(time.time())
    expired = emulator.mint(_alice_claims(emulator, iat=now - 7200, nbf=now - 7200, exp=now - 3600))
    with pytest.raises(ClientAuthenticationError, match="AADSTS500133"):
        obo(emulator, expired).get_token(API)


def test_forged_assertion_is_aadsts50013(emulator: EmulatorProcess) -> None:
    kid = jwt.get_unverified_header(emulator.user_token("alice", PROXY))["kid"]
    forged = jwt.encode(
        _alice_claims(emulator),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "RS256",
        headers={"kid": kid},
    )
    with pytest.raises(ClientAuthenticationError, match="AADSTS50013"):
        obo(emulator, forged).get_token(API)


def test_assertion_from_another_tenant_is_refused(emulator: EmulatorProcess) -> None:
    other = "11111111-2222-3333-4444-555555555555"
    foreign = emulator.mint(_alice_claims(emulator, iss=f"https://sts.windows.net/{other}/", tid=other))
    with pytest.raises(ClientAuthenticationError, match="AADSTS50013"):
        obo(emulator, foreign).get_token(API)


def test_app_only_assertion_is_refused(emulator: EmulatorProcess) -> None:
    app_token = (
        ManagedIdentityCredential().get_token("api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/.default").token
    )
    with pytest.raises(ClientAuthenticationError, match="AADSTS50027"):
        obo(emulator, app_token).get_token(API)


def test_consent_missing_then_granted(variant: EmulatorProcess, monkeypatch) -> None:
    """In the variant the proxy is not pre-authorized on the API: nobody consented (AADSTS65001)."""
    variant.activate(monkeypatch)
    variant.reset()
    alice = variant.user_token("alice", PROXY)
    with pytest.raises(ClientAuthenticationError, match="AADSTS65001"):
        obo(variant, alice).get_token(API)
    variant.admin(
        "POST",
        "grants",
        json={
            "clientAppId": variant.app_id("obo-proxy"),
            "resource": "notification-api",
            "scopes": ["Notifications.Read"],
        },
    )
    claims = jwt.decode(obo(variant, alice).get_token(API).token, options={"verify_signature": False})
    assert claims["scp"] == "Notifications.Read"


def test_garbage_assertion_is_aadsts50027(emulator: EmulatorProcess) -> None:
    with pytest.raises(ClientAuthenticationError, match="AADSTS50027"):
        obo(emulator, "not.a.jwt").get_token(API)


def test_removing_and_restoring_pre_authorization(emulator: EmulatorProcess) -> None:
    proxy = emulator.app_id("obo-proxy")
    body = {"clientAppId": proxy, "resource": "notification-api"}
    emulator.admin("DELETE", "pre-authorizations", json=body)
    with pytest.raises(ClientAuthenticationError, match="AADSTS65001"):
        obo(emulator, emulator.user_token("alice", PROXY)).get_token(API)
    emulator.admin("POST", "pre-authorizations", json={**body, "scopes": ["Notifications.Read"]})
    claims = jwt.decode(
        obo(emulator, emulator.user_token("alice", PROXY)).get_token(API).token, options={"verify_signature": False}
    )
    assert claims["scp"] == "Notifications.Read"
    emulator.reset()  # back to the file: both scopes pre-authorized
    claims = jwt.decode(
        obo(emulator, emulator.user_token("alice", PROXY)).get_token(API).token, options={"verify_signature": False}
    )
    assert claims["scp"] == "Notifications.Create Notifications.Read"


@pytest.mark.parametrize("route", ["pre-authorizations", "grants"])
def test_consent_for_an_app_that_does_not_exist_is_refused(emulator: EmulatorProcess, route: str) -> None:
    """Entra consents or pre-authorizes only a client that exists in the tenant (or a first-party one)."""
    unknown = "5f0c2a8e-0000-4000-8000-000000000000"
    body = {"clientAppId": unknown, "resource": "notification-api", "scopes": ["Notifications.Read"]}
    response = emulator.session.post(f"{emulator.origin}/admin/{route}", json=body)
    assert response.status_code == 400
    assert "no application with appId" in response.json()["error"]
    # A first-party client (the Azure CLI) is a real app in every tenant: accepted.
    azure_cli = {**body, "clientAppId": "04b07795-8ddb-461a-bbee-02f9e1bf7b46"}
    assert emulator.session.post(f"{emulator.origin}/admin/{route}", json=azure_cli).status_code == 200
    emulator.reset()
