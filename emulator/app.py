"""The Starlette application: one HTTPS origin for Entra ID, managed identity and Key Vault."""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import admin, consent_page, device_codes, discovery, home, keyvault, managed_identity, resource_manager
from .authorize import authorize
from .errors import EntraError
from .state import State
from .token_endpoint import token_v1, token_v2

log = logging.getLogger("emulator")
ARM_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


async def _entra_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, EntraError):  # Starlette calls this handler for EntraError only
        raise exc
    log.info("%s %s -> %s AADSTS%s", request.method, request.url.path, exc.status, exc.code)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, HTTPException):  # registered for HTTPException only
        raise exc
    return JSONResponse(
        {
            "error": "not_found" if exc.status_code == 404 else "invalid_request",
            "error_description": f"{exc.detail}: {request.method} {request.url.path}",
        },
        status_code=exc.status_code,
    )


class UnexpectedErrors:
    """A failure in a handler is a one-line 500 and the connection stays usable.

    Not an ``exception_handlers[Exception]`` entry: Starlette's outermost middleware re-raises after
    sending that answer, and uvicorn then closes the keep-alive connection under the client's next
    requests. Here the exception ends with the answer.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracking_send(message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            # A bug, not bad input (bad input is an EntraError or an HTTPException): keep the traceback.
            log.exception("unexpected %s on %s %s", type(exc).__name__, scope["method"], scope["path"])
            if started:
                raise  # half an answer is out: only closing the connection can end it
            response = JSONResponse(
                {"error": "server_error", "error_description": "The emulator failed; see its log."}, status_code=500
            )
            await response(scope, receive, send)


class RouteCounter:
    """Counts requests per route (``route:GET /{tenant}/discovery/v2.0/keys``) in the admin stats, so
    tests and benchmarks can count key fetches, token requests... without reading logs."""

    def __init__(self, app, state: State) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope, receive, send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            route = scope.get("route") if scope["type"] == "http" else None
            if route is not None:  # the router sets it on the scope it was given (unmatched: none)
                self.state.activity.count(f"route:{scope['method']} {route.path}")


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
        Route("/{tenant}/v2.0/adminconsent", consent_page.admin_consent, methods=["GET", "POST"]),
        Route("/{tenant}/adminconsent", consent_page.admin_consent, methods=["GET", "POST"]),
        Route("/{tenant}/oauth2/v2.0/devicecode", device_codes.devicecode, methods=["POST"]),
        Route("/devicelogin", device_codes.devicelogin, methods=["GET", "POST"]),
        Route("/tenants", resource_manager.tenants),
        Route("/subscriptions", resource_manager.dispatch, methods=ARM_METHODS),
        Route("/subscriptions/{path:path}", resource_manager.dispatch, methods=ARM_METHODS),
        Route("/metadata/endpoints", resource_manager.metadata_endpoints),
        Route("/msi/token", managed_identity.msi_token),
        Route("/secrets/{name}", keyvault.get_secret),
        Route("/secrets/{name}/", keyvault.get_secret),
        Route("/secrets/{name}/{version}", keyvault.get_secret),
        Route("/admin/directory", admin.directory),
        Route("/admin/stats", admin.stats, methods=["GET", "DELETE"]),
        Route("/admin/keys", admin.keys, methods=["GET", "POST", "DELETE"]),
        Route("/admin/keys/signing", admin.signing_key, methods=["POST"]),
        Route("/admin/keys/roll", admin.key_roll, methods=["POST"]),
        Route("/admin/tokens", admin.recent_tokens),
        Route("/admin/reset", admin.reset, methods=["POST"]),
        Route("/admin/assignments", admin.assignments, methods=["POST", "DELETE"]),
        Route("/admin/grants", admin.grants, methods=["POST", "DELETE"]),
        Route("/admin/role-assignments", admin.role_assignments, methods=["GET", "POST", "DELETE"]),
        Route("/admin/consent", admin.consent, methods=["POST", "DELETE"]),
        Route("/admin/pre-authorizations", admin.pre_authorizations, methods=["POST", "DELETE"]),
        Route("/admin/credentials", admin.credentials, methods=["POST"]),
        Route("/admin/mint", admin.mint, methods=["POST"]),
        Route("/admin/device-codes", admin.device_code_approvals, methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={EntraError: _entra_error, HTTPException: _http_error},
        middleware=[Middleware(UnexpectedErrors), Middleware(RouteCounter, state=state)],
    )
    app.state.emulator = state
    return app
