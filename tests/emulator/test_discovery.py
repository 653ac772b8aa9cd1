"""OIDC discovery, signing keys, TLS and the tenant check."""

from __future__ import annotations

import ssl
import subprocess
import sys

import certifi
import jwt
import requests

from tests.emulator_process import ROOT, EmulatorProcess, variant_directory


def test_v2_metadata_points_at_this_tenant(emulator: EmulatorProcess) -> None:
    meta = emulator.session.get(f"{emulator.authority}/v2.0/.well-known/openid-configuration").json()
    assert meta["issuer"] == f"{emulator.origin}/{emulator.tenant}/v2.0"
    assert meta["token_endpoint"] == emulator.token_endpoint
    assert meta["jwks_uri"] == f"{emulator.authority}/discovery/v2.0/keys"
    assert "S256" in meta["code_challenge_methods_supported"]


def test_v1_metadata_uses_the_sts_issuer(emulator: EmulatorProcess) -> None:
    meta = emulator.session.get(f"{emulator.authority}/.well-known/openid-configuration").json()
    assert meta["issuer"] == f"https://sts.windows.net/{emulator.tenant}/"
    assert meta["jwks_uri"] == f"{emulator.authority}/discovery/keys"


def test_tenant_domain_is_accepted_like_the_id(emulator: EmulatorProcess) -> None:
    domain = emulator.directory["tenant"]["domain"]
    meta = emulator.session.get(f"{emulator.origin}/{domain}/v2.0/.well-known/openid-configuration").json()
    assert emulator.tenant in meta["issuer"]


def test_unknown_tenant_is_aadsts90002(emulator: EmulatorProcess) -> None:
    other = "11111111-2222-3333-4444-555555555555"
    for response in (
        emulator.session.get(f"{emulator.origin}/{other}/v2.0/.well-known/openid-configuration"),
        emulator.session.post(f"{emulator.origin}/{other}/oauth2/v2.0/token", data={"grant_type": "password"}),
    ):
        assert response.status_code == 400
        body = response.json()
        assert body["error"] == "invalid_tenant"
        assert body["error_codes"] == [90002]
        assert body["error_description"].startswith("AADSTS90002:")
        assert {"timestamp", "trace_id", "correlation_id"} <= body.keys()


def test_signing_keys_verify_an_issued_token(emulator: EmulatorProcess, verify) -> None:
    keys = emulator.session.get(f"{emulator.authority}/discovery/keys").json()["keys"]
    assert keys[0]["kty"] == "RSA"
    assert keys[0]["kid"] == keys[0]["x5t"]
    token = emulator.user_token("alice", "api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/access_as_user")
    assert jwt.get_unverified_header(token)["kid"] == keys[0]["kid"]
    assert verify(token)["tid"] == emulator.tenant


def test_a_token_signed_by_another_key_does_not_verify(emulator: EmulatorProcess, verify) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    token = emulator.user_token("alice", "api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/access_as_user")
    kid = jwt.get_unverified_header(token)["kid"]
    forged = jwt.encode(
        jwt.decode(token, options={"verify_signature": False}),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "RS256",
        headers={"kid": kid},
    )
    try:
        verify(forged)
    except jwt.InvalidSignatureError:
        return
    raise AssertionError("a token signed by a foreign key with our kid verified")


def test_certificate_covers_localhost_and_loopback_ip(emulator: EmulatorProcess) -> None:
    for host in ("localhost", "127.0.0.1"):
        response = requests.get(f"https://{host}:{emulator.port}/", verify=emulator.bundle, timeout=5)
        assert response.status_code == 200
    # The bundle is the public roots plus the local CA: it replaces the trust store when set.
    bundle = ssl.create_default_context(cafile=emulator.bundle).cert_store_stats()["x509_ca"]
    public = ssl.create_default_context(cafile=certifi.where()).cert_store_stats()["x509_ca"]
    assert bundle == public + 1


def test_home_page_lists_apps_and_assignments(emulator: EmulatorProcess) -> None:
    page = emulator.session.get(f"{emulator.origin}/").text
    assert "notification-api" in page
    assert "notification.create" in page
    assert "notification-admins" in page


def test_unknown_route_is_a_json_404(emulator: EmulatorProcess) -> None:
    response = emulator.session.get(f"{emulator.origin}/nothing/here")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_a_busy_port_is_a_clear_error(emulator: EmulatorProcess, tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "emulator", "--state-dir", str(tmp_path), "serve", "--port", str(emulator.port)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{emulator.port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_env_file_has_the_contract_keys(emulator: EmulatorProcess) -> None:
    assert set(emulator.env) == {
        "AZURE_TENANT_ID",
        "AZURE_AUTHORITY_HOST",
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "REQUESTS_CA_BUNDLE",
        "SSL_CERT_FILE",
        "KEY_VAULT_URL",
        "RESOURCE_MANAGER_URL",
    }
    assert emulator.env["IDENTITY_ENDPOINT"] == f"{emulator.origin}/msi/token"
    assert (emulator.state_dir / "ca.pem").exists()
    assert (emulator.state_dir / "ca-bundle.pem").exists()


def test_an_inconsistent_directory_is_a_clear_error(tmp_path) -> None:
    def typo(data: dict) -> None:
        data["appRoleAssignments"].append(
            {"principal": "alice", "resource": "notification-api", "role": "notification.delete"}
        )

    path = variant_directory(tmp_path, typo)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "emulator",
            "--state-dir",
            str(tmp_path / "state"),
            "--directory",
            str(path),
            "serve",
            "--port",
            "0",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "app notification-api: appRoleAssignment of 'alice' names app role 'notification.delete'" in result.stderr
    assert "Traceback" not in result.stderr
