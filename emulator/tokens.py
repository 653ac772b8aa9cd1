"""Entra-shaped tokens: signed with PyJWT, claims laid out as Entra lays them out.

v1 or v2 follows the *resource's* ``requestedAccessTokenVersion`` (not the endpoint the client
called), exactly as in Entra: a v1 API gets ``iss https://sts.windows.net/{tid}/``, ``appid`` and
``aud`` as requested; a v2 API gets ``iss {authority}/{tid}/v2.0``, ``azp`` and ``aud`` = app id.

Every tenant has its own two issuers; the signing keys are shared by all tenants, as Entra's are.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import uuid

import jwt

from .directory import Principal, Resource
from .signing_keys import SigningKeys

ACCESS_TOKEN_LIFETIME = 3599  # Entra: 60-90 minutes for most tokens
MANAGED_IDENTITY_LIFETIME = 24 * 3600 - 1  # managed identity tokens live about 24 hours


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


TENANT_ID_TEMPLATE = "{tenantid}"


class TokenIssuer:
    def __init__(self, keys: SigningKeys, tenant_id: str, origin: str) -> None:
        self.keys = keys
        self.tenant_id = tenant_id  # the home tenant
        self.origin = origin
        self.issuer_v1 = self.issuer_of(tenant_id, 1)
        self.issuer_v2 = self.issuer_of(tenant_id, 2)

    def issuer_of(self, tenant_id: str, version: int) -> str:
        """A tenant's issuer: v1 ``https://sts.windows.net/{tid}/`` (Entra's, even here), v2 under this origin."""
        return f"{self.origin}/{tenant_id}/v2.0" if version == 2 else f"https://sts.windows.net/{tenant_id}/"

    def issuer(self, version: int, tenant_id: str | None = None) -> str:
        return self.issuer_of(tenant_id or self.tenant_id, version)

    def jwks(self, version: int = 2) -> dict:
        """Every published key, the signing one and those added or not yet retired (order means nothing).

        v2 documents give each key the templated issuer it may sign for (validators substitute the
        token's ``tid``); v1 documents carry no key issuer, as Entra's.
        """
        extra = {"issuer": self.issuer_of(TENANT_ID_TEMPLATE, 2)} if version == 2 else {}
        return {"keys": [{**key.jwk(), **extra} for key in self.keys.published]}

    def sign(self, claims: dict) -> str:
        """With the current key. As Entra: v1 tokens name the key by ``x5t`` and ``kid``, v2 by ``kid`` only."""
        key = self.keys.current
        headers = {"typ": "JWT", "kid": key.kid}
        if claims.get("ver") == "1.0":
            headers = {"typ": "JWT", "x5t": key.kid, "kid": key.kid}
        return jwt.encode(claims, key.private_key, algorithm="RS256", headers=headers)

    def verify(self, token: str, *, leeway: int = 0) -> dict:
        """Signature (by a key still published) and time only; callers check ``iss``/``aud`` to give
        precise errors.

        Raises ``jwt.InvalidTokenError`` subclasses (``DecodeError``, ``InvalidSignatureError`` also for
        a key that is not or no longer published, ``ExpiredSignatureError``, ``ImmatureSignatureError``).
        """
        key = self.keys.get(jwt.get_unverified_header(token).get("kid"))
        if key is None:
            raise jwt.InvalidSignatureError("the token's key is not published (unknown or retired kid)")
        return jwt.decode(
            token,
            key.public_key,
            algorithms=["RS256"],
            leeway=leeway,
            options={"verify_aud": False, "require": ["exp", "iat"]},
        )

    # -- claims --------------------------------------------------------------------------------

    def _base(self, *, version: int, audience: str, subject: Principal, lifetime: int) -> dict:
        """The claims every access token has; the subject's tenant is the issuing tenant."""
        now = int(time.time())
        tenant_id = subject.tenant_id or self.tenant_id
        return {
            "aud": audience,
            "iss": self.issuer_of(tenant_id, version),
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "aio": _b64url(secrets.token_bytes(48)),
            "oid": subject.object_id,
            "tid": tenant_id,
            "uti": _b64url(uuid.uuid4().bytes),
            "ver": "2.0" if version == 2 else "1.0",
        }

    def app_token_claims(
        self,
        *,
        subject: Principal,
        resource: Resource,
        audience: str,
        roles: list[str],
        client_auth: str,
        lifetime: int = ACCESS_TOKEN_LIFETIME,
    ) -> dict:
        """An app-only token: ``roles`` and no ``scp``, ``sub`` = ``oid``.

        ``client_auth`` is Entra's ``appidacr``/``azpacr``: 0 public, 1 secret, 2 certificate or assertion.
        ``idtyp`` and a managed identity's ``xms_mirid`` only in tokens for Microsoft's own APIs: for your
        API, Entra sends ``idtyp`` only when the API configures that optional claim, and ``xms_mirid``
        not at all, so code that read them would work here and fail in Azure.
        """
        claims = self._base(version=resource.token_version, audience=audience, subject=subject, lifetime=lifetime)
        claims["sub"] = subject.object_id
        if resource.first_party:
            claims["idtyp"] = "app"
        if resource.token_version == 2:
            claims.update({"azp": subject.app_id, "azpacr": client_auth})
        else:
            claims.update({"appid": subject.app_id, "appidacr": client_auth, "idp": claims["iss"]})
        if roles:
            claims["roles"] = roles
        if subject.kind == "managedIdentity" and resource.first_party:
            claims["xms_mirid"] = subject.resource_id
        return claims

    def user_token_claims(
        self,
        *,
        user: Principal,
        resource: Resource,
        audience: str,
        client_app_id: str,
        client_auth: str,
        scopes: list[str],
        roles: list[str],
        lifetime: int = ACCESS_TOKEN_LIFETIME,
    ) -> dict:
        """A delegated token: ``scp`` (what the client may do) and the *user's* ``roles``."""
        claims = self._base(version=resource.token_version, audience=audience, subject=user, lifetime=lifetime)
        claims.update(
            {
                "sub": self.pairwise_sub(user, client_app_id),
                "name": user.display_name,
                "scp": " ".join(scopes),
            }
        )
        if resource.first_party:  # see app_token_claims: only Microsoft's APIs get idtyp unasked
            claims["idtyp"] = "user"
        if resource.token_version == 2:
            claims.update({"azp": client_app_id, "azpacr": client_auth, "preferred_username": user.upn})
        else:
            claims.update(
                {
                    "appid": client_app_id,
                    "appidacr": client_auth,
                    "amr": ["pwd"],
                    "upn": user.upn,
                    "unique_name": user.upn,
                }
            )
        if roles:
            claims["roles"] = roles
        return claims

    def id_token(self, *, user: Principal, client_app_id: str, nonce: str | None) -> str:
        now = int(time.time())
        tenant_id = user.tenant_id or self.tenant_id
        claims = {
            "aud": client_app_id,
            "iss": self.issuer_of(tenant_id, 2),
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "name": user.display_name,
            "oid": user.object_id,
            "preferred_username": user.upn,
            "sub": self.pairwise_sub(user, client_app_id),
            "tid": tenant_id,
            "ver": "2.0",
        }
        if nonce:
            claims["nonce"] = nonce
        return self.sign(claims)

    def client_info(self, user: Principal) -> str:
        """MSAL keys its account cache on this (``uid.utid``); without it OBO results are not cached."""
        return _b64url(json.dumps({"uid": user.object_id, "utid": user.tenant_id or self.tenant_id}).encode())

    @staticmethod
    def pairwise_sub(user: Principal, app_id: str) -> str:
        return _b64url(hashlib.sha256(f"{user.object_id}:{app_id.lower()}".encode()).digest())
