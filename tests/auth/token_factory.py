"""Builds good tokens and named bad ones, all signed in this process: the tenant's key and the
attacker's are generated for the test run, and ``tenant_stub.py`` publishes the tenant's public key
the way Entra does. Ids come from ``directory.json``, the one description of the tenant.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.processes import ROOT

Claims = dict[str, Any]
DIRECTORY = json.loads((ROOT / "directory.json").read_text())
# Two more tenants of the tests' own: a customer the API serves, and one it does not. Entra signs
# every tenant's tokens with the same keys and publishes them under each tenant's key set URI.
CUSTOMER = "0f4a6b2e-9c1d-4e8f-a7b3-5d2c8e1f9a60"
NOT_A_CUSTOMER = "c9e1d7a4-3b5f-4a2c-8e6d-1f0b9a7c2e55"


def b64(data: bytes | Claims) -> str:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def at(offset: int) -> int:
    """A NumericDate ``offset`` seconds from now, read when the token is built (never at import)."""
    return int(time.time()) + offset


class TokenFactory:
    def __init__(self, authority_host: str) -> None:
        self.tenant = DIRECTORY["tenant"]["id"]
        self.v1_issuer = f"https://sts.windows.net/{self.tenant}/"
        self.v2_issuer = f"{authority_host}/{self.tenant}/v2.0"
        self.api_app_id = DIRECTORY["applications"]["notification-api"]["appId"]
        self.api_uri = DIRECTORY["applications"]["notification-api"]["identifierUris"][0]
        self.caller = DIRECTORY["managedIdentities"]["caller-app"]
        self.alice = DIRECTORY["users"]["alice"]
        self.kid = "test-tenant-key"
        self.tenant_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.attacker_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self, issuer: str | None = None) -> dict[str, list[Claims]]:
        """A published key set: the public half of the tenant key, under its ``kid``, with the
        ``issuer`` Entra's v2 key sets carry (often the ``{tenantid}`` template) when given."""
        key = jwt.algorithms.RSAAlgorithm.to_jwk(self.tenant_key.public_key(), as_dict=True)
        entry = {**key, "kid": self.kid, "use": "sig", "alg": "RS256"}
        return {"keys": [{**entry, "issuer": issuer} if issuer else entry]}

    def issuer(self, tenant: str, version: str = "1.0") -> str:
        """``tenant``'s issuer for tokens of ``version``: Entra's v1 or v2 template with it filled in."""
        return f"https://sts.windows.net/{tenant}/" if version == "1.0" else self.v2_issuer.replace(self.tenant, tenant)

    def in_tenant(self, claims: Claims, tenant: str) -> Claims:
        """The same token as issued by ``tenant``: its ``iss`` (of the token's version) and ``tid``."""
        return {**claims, "iss": self.issuer(tenant, claims["ver"]), "tid": tenant}

    # -- claims --------------------------------------------------------------------------------

    def app_claims(self, version: str = "1.0", **changes: Any) -> Claims:
        """What Entra puts in an app-only token for the API (v1 or v2 shape); ``None`` drops a claim."""
        now = at(0)
        claims = {
            "aud": "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api"
            if version == "1.0"
            else self.api_app_id,
            "iss": self.v1_issuer if version == "1.0" else self.v2_issuer,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "tid": self.tenant,
            "ver": version,
            "oid": self.caller["principalId"],
            "sub": self.caller["principalId"],
            "idtyp": "app",
            "roles": ["notification.read"],
            ("appid" if version == "1.0" else "azp"): self.caller["clientId"],
        }
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None}

    def user_claims(self, version: str = "1.0", **changes: Any) -> Claims:
        """A delegated token: alice, through the caller's client, with a scope."""
        claims = self.app_claims(
            version,
            oid=self.alice["id"],
            sub="pairwise",
            idtyp="user",
            scp="Notifications.Read",
            upn=self.alice["userPrincipalName"],
            name=self.alice["displayName"],
        )
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None}

    # -- signing -------------------------------------------------------------------------------

    def tenant_signed(self, claims: Claims) -> str:
        return jwt.encode(claims, self.tenant_key, "RS256", headers={"kid": self.kid})

    def attacker_signed(self, claims: Claims, **headers: Any) -> str:
        chosen = {k: v for k, v in {"kid": self.kid, **headers}.items() if v is not None}
        return jwt.encode(claims, self.attacker_key, "RS256", headers=chosen)

    def unsigned(self, claims: Claims) -> str:
        return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."

    def hs256_with_public_key(self, claims: Claims) -> str:
        """The classic key-confusion attack: HMAC keyed with the tenant's *public* key."""
        public_pem = self.tenant_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT', 'kid': self.kid})}.{b64(claims)}"
        signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64(signature)}"

    def es256(self, claims: Claims) -> str:
        return jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), "ES256", headers={"kid": self.kid})

    def attacker_jwk_header(self) -> Claims:
        jwk: Claims = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.attacker_key.public_key()))
        return jwk
