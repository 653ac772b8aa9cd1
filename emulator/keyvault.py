"""Key Vault secrets: ``GET /secrets/{name}[/{version}]`` with the bearer challenge and RBAC.

``SecretClient`` first calls without a token, reads the ``WWW-Authenticate`` challenge (authority
and resource), gets a token for ``https://vault.azure.net`` and retries. Access follows the
vault's ``secretsUsers`` in directory.json, the local picture of "Key Vault Secrets User".
Clients must pass ``verify_challenge_resource=False``: the vault is on localhost, not *.vault.azure.net.
"""

from __future__ import annotations

import hashlib
import time

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse

from .directory import KEY_VAULT
from .state import State

_CREATED = int(time.time())


def _error(status: int, code: str, message: str, state: State, inner: str | None = None) -> JSONResponse:
    error: dict[str, object] = {"code": code, "message": message}
    if inner:
        error["innererror"] = {"code": inner}
    body = {"error": error}
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = (
            f'Bearer authorization="{state.config.origin}/{state.directory.tenant_id}", '
            f'resource="{KEY_VAULT.identifier_uris[0]}"'
        )
    return JSONResponse(body, status_code=status, headers=headers)


def _caller(request: Request, state: State) -> dict | JSONResponse:
    """The validated claims of the bearer token, or the 401 Key Vault would send."""
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("bearer "):
        return _error(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.", state)
    try:
        claims = state.issuer.verify(auth[7:].strip())
    except jwt.ExpiredSignatureError:
        return _error(401, "Unauthorized", "Token is expired.", state)
    except jwt.InvalidTokenError:
        return _error(401, "Unauthorized", "Token validation failed: not a token this tenant issued.", state)
    if claims.get("iss") not in (state.issuer.issuer_v1, state.issuer.issuer_v2):
        return _error(401, "Unauthorized", "AKV10032: Invalid issuer.", state)
    audience = str(claims.get("aud", "")).rstrip("/").lower()
    if audience not in (KEY_VAULT.app_id, KEY_VAULT.identifier_uris[0]):
        return _error(
            401,
            "Unauthorized",
            f"AKV10022: Invalid audience. Expected {KEY_VAULT.identifier_uris[0]}, found: {claims.get('aud')}.",
            state,
        )
    return claims


def _version(state: State, name: str, value: str) -> str:
    return hashlib.sha256(f"{state.directory.vault_name}/{name}/{value}".encode()).hexdigest()[:32]


async def get_secret(request: Request) -> JSONResponse:
    state: State = request.app.state.emulator
    if not request.query_params.get("api-version"):
        return _error(400, "BadParameter", "The 'api-version' query parameter is required.", state)
    claims = _caller(request, state)
    if isinstance(claims, JSONResponse):
        return claims
    name, version = request.path_params["name"], request.path_params.get("version")
    if not state.directory.vault_reader(str(claims.get("oid", ""))):
        state.activity.count("keyvault:forbidden")
        who = f"appid={claims.get('appid') or claims.get('azp')};oid={claims.get('oid')}"
        return _error(
            403,
            "Forbidden",
            f"Caller is not authorized to perform action on resource. Caller: {who}. Action: "
            "'Microsoft.KeyVault/vaults/secrets/getSecret/action'. Assignment: (not found). "
            f"Vault: {state.directory.vault_name}. Assign 'Key Vault Secrets User' to the caller "
            "(secretsUsers in directory.json).",
            state,
            inner="ForbiddenByRbac",
        )
    value = state.directory.vault_secrets.get(name)
    current = _version(state, name, value) if value is not None else None
    if value is None or (version and version != current):
        return _error(
            404,
            "SecretNotFound",
            f"A secret with (name/id) {name}{'/' + version if version else ''} was not found in this key vault.",
            state,
        )
    state.activity.count("keyvault:get")
    return JSONResponse(
        {
            "value": value,
            "id": f"{state.config.origin}/secrets/{name}/{current}",
            "attributes": {
                "enabled": True,
                "created": _CREATED,
                "updated": _CREATED,
                "recoveryLevel": "Recoverable+Purgeable",
                "recoverableDays": 90,
            },
            "tags": {},
        }
    )
