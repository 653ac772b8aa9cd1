"""Client credentials (secret and federated), and Entra's answers to bad input."""

from __future__ import annotations

import subprocess
import sys
import time

import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientAssertionCredential, ClientSecretCredential, ManagedIdentityCredential
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.emulator_process import ROOT, EmulatorProcess

EXCHANGE = "api://AzureADTokenExchange/.default"
OBO_IDENTITY = "128eee4f-bbd7-4895-9017-e06bca8f75e2"


def secret_credential(emulator: EmulatorProcess, secret: str) -> ClientSecretCredential:
    return ClientSecretCredential(
        emulator.tenant,
        emulator.app_id("obo-proxy"),
        secret,
        authority=emulator.origin,
        disable_instance_discovery=True,
    )


def assertion_credential(emulator: EmulatorProcess, assertion) -> ClientAssertionCredential:
    return ClientAssertionCredential(
        emulator.tenant,
        emulator.app_id("obo-proxy"),
        assertion,
        authority=emulator.origin,
        disable_instance_discovery=True,
    )


def aadsts(response, code: int, error: str) -> str:
    body = response.json()
    assert response.headers["content-type"].startswith("application/json")
    assert body["error"] == error, body
    assert body["error_codes"] == [code], body
    assert body["error_description"].startswith(f"AADSTS{code}:")
    return body["error_description"]


def test_client_secret_gets_an_app_token(emulator: EmulatorProcess, verify) -> None:
    secret = emulator.new_secret("obo-proxy")
    claims = verify(
        secret_credential(emulator, secret)
        .get_token("api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/.default")
        .token
    )
    assert claims["aud"] == emulator.app_id("obo-proxy")
    assert claims["ver"] == "2.0"
    assert claims["azp"] == emulator.app_id("obo-proxy")
    assert claims["azpacr"] == "1"
    assert "idtyp" not in claims  # your API gets it only by configuring the optional claim
    assert "roles" not in claims
    assert "scp" not in claims
    assert emulator.stats()["client_auth:secret:obo-proxy"] == 1


def test_an_app_without_a_role_cannot_reach_an_api_that_requires_assignment(emulator: EmulatorProcess) -> None:
    # The proxy has no permissions of its own: that is the point of on-behalf-of.
    credential = secret_credential(emulator, emulator.new_secret("obo-proxy"))
    with pytest.raises(ClientAuthenticationError, match="AADSTS501051"):
        credential.get_token("api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/.default")


def test_wrong_secret_is_aadsts7000215(emulator: EmulatorProcess) -> None:
    emulator.new_secret("obo-proxy")
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        secret_credential(emulator, "not-the-secret").get_token(
            "api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/.default"
        )
    response = emulator.token_request(
        grant_type="client_credentials",
        client_id=emulator.app_id("obo-proxy"),
        client_secret="not-the-secret",
        scope="api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/.default",
    )
    assert response.status_code == 401
    aadsts(response, 7000215, "invalid_client")


def test_confidential_client_without_credential_is_aadsts7000218(emulator: EmulatorProcess) -> None:
    response = emulator.token_request(
        grant_type="client_credentials",
        client_id=emulator.app_id("obo-proxy"),
        scope="api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/.default",
    )
    assert response.status_code == 401
    aadsts(response, 7000218, "invalid_client")


def test_public_client_presenting_a_secret_is_refused(emulator: EmulatorProcess) -> None:
    response = emulator.token_request(
        grant_type="client_credentials",
        client_id="04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        client_secret="x",
        scope="api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/.default",
    )
    aadsts(response, 700025, "invalid_client")


def test_client_credentials_need_dot_default(emulator: EmulatorProcess) -> None:
    response = emulator.token_request(
        grant_type="client_credentials",
        client_id=emulator.app_id("obo-proxy"),
        client_secret=emulator.new_secret("obo-proxy"),
        scope="api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/access_as_user",
    )
    aadsts(response, 1002012, "invalid_scope")


def test_federated_credential_from_the_trusted_identity(emulator: EmulatorProcess, verify) -> None:
    """Secretless: the proxy proves itself with its user-assigned identity's exchange token."""
    identity = ManagedIdentityCredential(client_id=OBO_IDENTITY)
    exchange = verify(identity.get_token(EXCHANGE).token)
    assert exchange["aud"] == "fb60f99c-7a34-4190-8149-302f77469936"
    assert exchange["iss"] == f"{emulator.authority}/v2.0"
    assert exchange["sub"] == emulator.identity("obo-proxy-identity")["principalId"]

    credential = assertion_credential(emulator, lambda: identity.get_token(EXCHANGE).token)
    claims = verify(credential.get_token("api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/.default").token)
    assert claims["azp"] == emulator.app_id("obo-proxy")
    assert claims["azpacr"] == "2"
    assert emulator.stats()["client_auth:federated:obo-proxy-identity"] == 1


def test_federated_credential_from_an_untrusted_identity_is_aadsts70021(emulator: EmulatorProcess) -> None:
    caller = ManagedIdentityCredential()  # caller-app: not a federated credential of obo-proxy
    credential = assertion_credential(emulator, lambda: caller.get_token(EXCHANGE).token)
    with pytest.raises(ClientAuthenticationError, match="AADSTS70021"):
        credential.get_token("api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/.default")


def _assertion_error(emulator: EmulatorProcess, assertion: str):
    return emulator.token_request(
        grant_type="client_credentials",
        client_id=emulator.app_id("obo-proxy"),
        scope="api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/.default",
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion=assertion,
    )


def _exchange_claims(emulator: EmulatorProcess, **changes) -> dict:
    now = int(time.time())
    claims = {
        "aud": "fb60f99c-7a34-4190-8149-302f77469936",
        "iss": f"{emulator.authority}/v2.0",
        "sub": emulator.identity("obo-proxy-identity")["principalId"],
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
    }
    claims.update(changes)
    return claims


def test_federated_assertion_failures(emulator: EmulatorProcess) -> None:
    now = int(time.time())
    cases = {
        700212: emulator.mint(
            _exchange_claims(emulator, aud="api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api")
        ),
        700211: emulator.mint(_exchange_claims(emulator, iss=f"https://sts.windows.net/{emulator.tenant}/")),
        700024: emulator.mint(_exchange_claims(emulator, iat=now - 7200, exp=now - 3600)),
    }
    for code, assertion in cases.items():
        response = _assertion_error(emulator, assertion)
        assert response.status_code == 401
        aadsts(response, code, "invalid_client")
    header_kid = jwt.get_unverified_header(cases[700212])["kid"]
    forged = jwt.encode(
        _exchange_claims(emulator),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "RS256",
        headers={"kid": header_kid},
    )
    aadsts(_assertion_error(emulator, forged), 700027, "invalid_client")
    aadsts(_assertion_error(emulator, "not-a-jwt"), 50027, "invalid_request")


def test_bad_requests_get_entra_errors_never_500(emulator: EmulatorProcess) -> None:
    proxy = emulator.app_id("obo-proxy")
    session, url = emulator.session, emulator.token_endpoint
    aadsts(session.post(url, data={}), 900144, "invalid_request")
    aadsts(session.post(url, json={"grant_type": "client_credentials"}), 900144, "invalid_request")
    aadsts(
        session.post(url, data=b"\xff\xfe%%%", headers={"content-type": "application/x-www-form-urlencoded"}),
        900144,
        "invalid_request",
    )
    aadsts(session.post(url, data={"grant_type": "magic", "client_id": proxy}), 70003, "unsupported_grant_type")
    aadsts(session.post(url, data={"grant_type": "client_credentials"}), 900144, "invalid_request")
    aadsts(
        session.post(url, data={"grant_type": "client_credentials", "client_id": "nobody"}),
        700016,
        "unauthorized_client",
    )
    aadsts(
        session.post(url, data={"grant_type": "password"}, headers={"Authorization": "Basic !!!"}),
        9002313,
        "invalid_request",
    )
    secret = emulator.new_secret("obo-proxy")
    description = aadsts(
        emulator.token_request(
            grant_type="client_credentials", client_id=proxy, client_secret=secret, scope="api://no-such-api/.default"
        ),
        500011,
        "invalid_resource",
    )
    assert "api://no-such-api" in description
    aadsts(
        emulator.token_request(
            grant_type="client_credentials",
            client_id=proxy,
            client_secret=secret,
            scope="api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/.default https://vault.azure.net/.default",
        ),
        28000,
        "invalid_scope",
    )
    assert "Traceback" not in emulator.log_text()


def test_client_secret_basic_is_accepted(emulator: EmulatorProcess) -> None:
    secret = emulator.new_secret("obo-proxy")
    response = emulator.session.post(
        emulator.token_endpoint,
        auth=(emulator.app_id("obo-proxy"), secret),
        data={
            "grant_type": "client_credentials",
            "scope": "api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/.default",
        },
    )
    assert response.status_code == 200, response.text


def test_v1_endpoint_takes_a_resource(emulator: EmulatorProcess, verify) -> None:
    response = emulator.session.post(
        f"{emulator.authority}/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": emulator.app_id("obo-proxy"),
            "client_secret": emulator.new_secret("obo-proxy"),
            "resource": "https://vault.azure.net",
        },
    )
    assert response.status_code == 200, response.text
    assert verify(response.json()["access_token"])["aud"] == "https://vault.azure.net"


def test_credential_reset_cli_prints_a_working_secret_stored_hashed(emulator: EmulatorProcess) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "emulator",
            "credential-reset",
            "--app",
            "obo-proxy",
            "--state-dir",
            str(emulator.state_dir),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    secret = result.stdout.strip()
    response = emulator.token_request(
        grant_type="client_credentials",
        client_id=emulator.app_id("obo-proxy"),
        client_secret=secret,
        scope="api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/.default",
    )
    assert response.status_code == 200
    assert secret not in (emulator.state_dir / "client-secrets.json").read_text()
