"""The Starlette application: one HTTPS origin for Entra ID, managed identity and Key Vault."""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import admin, discovery, home, keyvault, managed_identity
from .authorize import authorize
from .errors import EntraError
from .state import State
from .token_endpoint import token_v1, token_v2

log = logging.getLogger("emulator")


async def _entra_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EntraError)
    log.info("%s %s -> %s AADSTS%s", request.method, request.url.path, exc.status, exc.code)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return JSONResponse(
        {
            "error": "not_found" if exc.status_code == 404 else "invalid_request",
            "error_description": f"{exc.detail}: {request.method} {request.url.path}",
        },
        status_code=exc.status_code,
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return JSONResponse(
        {"error": "server_error", "error_description": "The emulator failed; see its log."}, status_code=500
    )


def build_app(state: State) -> Starlette:
    routes = [
        Route("/", home.home, methods=["GET", "POST"]),
        Route("/{tenant}/v2.0/.well-known/openid-configuration", discovery.openid_configuration_v2),
        Route("/{tenant}/.well-known/openid-configuration", discovery.openid_configuration_v1),
        Route("/{tenant}/discovery/v2.0/keys", discovery.keys),
        Route("/{tenant}/discovery/keys", discovery.keys),
        Route("/common/userrealm/{username}", discovery.user_realm),
        Route("/{tenant}/oauth2/v2.0/token", token_v2, methods=["POST"]),
        Route("/{tenant}/oauth2/token", token_v1, methods=["POST"]),
        Route("/{tenant}/oauth2/v2.0/authorize", authorize, methods=["GET", "POST"]),
        Route("/msi/token", managed_identity.msi_token),
        Route("/secrets/{name}", keyvault.get_secret),
        Route("/secrets/{name}/", keyvault.get_secret),
        Route("/secrets/{name}/{version}", keyvault.get_secret),
        Route("/admin/directory", admin.directory),
        Route("/admin/stats", admin.stats),
        Route("/admin/tokens", admin.recent_tokens),
        Route("/admin/reset", admin.reset, methods=["POST"]),
        Route("/admin/assignments", admin.assignments, methods=["POST", "DELETE"]),
        Route("/admin/grants", admin.grants, methods=["POST"]),
        Route("/admin/pre-authorizations", admin.pre_authorizations, methods=["POST", "DELETE"]),
        Route("/admin/credentials", admin.credentials, methods=["POST"]),
        Route("/admin/mint", admin.mint, methods=["POST"]),
    ]
    app = Starlette(
        routes=routes, exception_handlers={EntraError: _entra_error, HTTPException: _http_error, Exception: _unexpected}
    )
    app.state.emulator = state
    return app
