"""``GET /msi/token``: the App Service managed identity protocol (``api-version=2019-08-01``).

What azure-identity's ``ManagedIdentityCredential`` talks to when ``IDENTITY_ENDPOINT`` and
``IDENTITY_HEADER`` are set. Two of Azure's behaviours are reproduced on purpose:

- tokens live about 24 hours, and
- the endpoint caches them per identity and per *exact* resource string. A role assigned after
  a token was cached does not show up until it expires; asking for the same resource with
  different letter case (``api://<tenant id>/Notification-API``) misses the cache and gets a fresh
  token.
  ``--msi-cache off`` turns the cache off.

One endpoint serves the managed identities of every tenant in directory.json (a local shortcut:
in Azure an app reaches only the identities attached to it); the identity's tenant issues.
"""

from __future__ import annotations

import hmac
import time
import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse

from . import errors, grants
from .directory import Principal
from .state import State
from .tokens import MANAGED_IDENTITY_LIFETIME

API_VERSION = "2019-08-01"


def _fail(status: int, message: str, error: str = "invalid_request") -> JSONResponse:
    # App Service answers with statusCode/message; the OAuth fields help generic clients.
    return JSONResponse(
        {
            "statusCode": status,
            "message": message,
            "correlationId": str(uuid.uuid4()),
            "error": error,
            "error_description": message,
        },
        status_code=status,
    )


def _identity(state: State, query) -> Principal | None:
    selectors = {k: query[k] for k in ("client_id", "object_id", "mi_res_id", "principal_id") if query.get(k)}
    if not selectors:
        return state.directory.principals.get(state.config.system_identity)
    # Identities of every tenant: the identity's own tenant issues its token.
    return state.directory.find_managed_identity_anywhere(
        client_id=selectors.get("client_id", ""),
        object_id=selectors.get("object_id", "") or selectors.get("principal_id", ""),
        resource_id=selectors.get("mi_res_id", ""),
    )


async def msi_token(request: Request) -> JSONResponse:
    state: State = request.app.state.emulator
    header = request.headers.get("x-identity-header", "")
    if not hmac.compare_digest(header.encode(), state.config.identity_header.encode()):
        return _fail(
            401,
            "The X-IDENTITY-HEADER header is missing or wrong. Use the IDENTITY_HEADER value the "
            "emulator wrote to its env file.",
            "unauthorized_client",
        )
    query = request.query_params
    if query.get("api-version") != API_VERSION:
        return _fail(400, f"api-version must be {API_VERSION} (the App Service managed identity protocol).")
    resource = query.get("resource", "").strip()
    if not resource:
        return _fail(400, "The 'resource' query parameter is required (a resource, not a scope: no /.default).")
    if len([k for k in ("client_id", "object_id", "mi_res_id") if query.get(k)]) > 1:
        return _fail(400, "Give at most one of client_id, object_id and mi_res_id.")
    identity = _identity(state, query)
    if identity is None or identity.kind != "managedIdentity":
        return _fail(
            400,
            "Unable to load the proper Managed Identity: no managed identity with that id is "
            "attached to this app (see managedIdentities in directory.json).",
        )

    key = (identity.object_id, resource)  # the exact string: case matters for the cache
    now = int(time.time())
    cached = state.msi_cache.get(key) if state.config.msi_cache else None
    if cached and cached[1] - now > 300:
        token, expires_on, _ = cached
        state.activity.count("msi:cache_hit")
    else:
        try:
            tenant = state.directory.tenant_of(identity)
            request_scope = grants.parse_scope(state, f"{resource.rstrip('/')}/.default", tenant)
            token, claims = grants.app_token(state, identity, request_scope, "2", MANAGED_IDENTITY_LIFETIME)
        except errors.EntraError as exc:
            return _fail(exc.status, str(exc), exc.error)
        expires_on = claims["exp"]
        state.msi_cache[key] = (token, expires_on, claims)
        state.activity.issued("managed_identity", claims)
    state.activity.count("msi:requests", f"msi:{identity.name}")
    return JSONResponse(
        {
            "access_token": token,
            "expires_on": str(expires_on),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": identity.app_id,
        },
        headers={"Cache-Control": "no-store"},
    )
