"""Builds good tokens and named bad ones. Tenant-signed tokens come from the emulator's test
factory (``/admin/mint``); attacker tokens are signed here with keys made for the test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.emulator_process import EmulatorProcess


def b64(data: bytes | dict) -> str:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class TokenFactory:
    def __init__(self, emulator: EmulatorProcess) -> None:
        self.emulator = emulator
        self.tenant = emulator.tenant
        self.api_app_id = emulator.app_id("notification-api")
        self.kid = jwt.get_unverified_header(emulator.mint({"a": 1}))["kid"]
        self.attacker_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwks = emulator.session.get(f"{emulator.authority}/discovery/v2.0/keys").json()
        self.tenant_public_pem = jwt.PyJWK(jwks["keys"][0]).key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    # -- claims --------------------------------------------------------------------------------

    def app_claims(self, version: str = "1.0", **changes) -> dict:
        now = int(time.time())
        caller = self.emulator.identity("caller-app")
        claims = {
            "aud": "api://notification-api" if version == "1.0" else self.api_app_id,
            "iss": (
                f"https://sts.windows.net/{self.tenant}/" if version == "1.0" else f"{self.emulator.authority}/v2.0"
            ),
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "tid": self.tenant,
            "ver": version,
            "oid": caller["principalId"],
            "sub": caller["principalId"],
            "idtyp": "app",
            "roles": ["notification.read"],
            ("appid" if version == "1.0" else "azp"): caller["clientId"],
        }
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None}

    def user_claims(self, version: str = "1.0", **changes) -> dict:
        alice = self.emulator.user("alice")
        claims = self.app_claims(
            version,
            oid=alice["id"],
            sub="pairwise",
            idtyp="user",
            scp="Notifications.Read",
            upn=alice["userPrincipalName"],
            name=alice["displayName"],
        )
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None}

    # -- signing -------------------------------------------------------------------------------

    def tenant_signed(self, claims: dict) -> str:
        return self.emulator.mint(claims)

    def attacker_signed(self, claims: dict, **headers) -> str:
        chosen = {k: v for k, v in {"kid": self.kid, **headers}.items() if v is not None}
        return jwt.encode(claims, self.attacker_key, "RS256", headers=chosen)

    def unsigned(self, claims: dict) -> str:
        return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."

    def hs256_with_public_key(self, claims: dict) -> str:
        """The classic key-confusion attack: HMAC keyed with the tenant's *public* key."""
        signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT', 'kid': self.kid})}.{b64(claims)}"
        signature = hmac.new(self.tenant_public_pem, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64(signature)}"

    def es256(self, claims: dict) -> str:
        return jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), "ES256", headers={"kid": self.kid})

    def attacker_jwk_header(self) -> dict:
        return json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.attacker_key.public_key()))
