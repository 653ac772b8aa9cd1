"""Route guards: every HTTP function declares what it needs, or says it is anonymous.

    api = Authorizer(lambda: settings().auth)

    @bp.route(route="notifications", methods=["GET"])
    @api.requires("notification.read", scope="Notifications.Read")
    def list_notifications(req: func.HttpRequest) -> func.HttpResponse:
        caller = principal_of(req)

"Scope or app permission" (as Microsoft.Identity.Web does it): an app-only token needs the
app role; a delegated token needs the scope *and* the user's own app role. A token with neither
``roles`` nor ``scp`` gets nothing. Entra keeps app roles and scopes in one namespace of values
(a role and a scope may not share one), so a route names both: ``notification.read`` is the role,
``Notifications.Read`` the scope. The wrapper keeps the handler's signature (``req`` only), which
the Functions worker checks against the bindings.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar, overload

import azure.functions as func

from web import Problem, problems

from .errors import KeysUnavailable, TenantNotAllowed, TokenError
from .principal import Principal
from .settings import AuthSettings, debug_endpoints_enabled
from .validation import TokenValidator

if TYPE_CHECKING:
    from typing_extensions import TypeIs  # typing.TypeIs from Python 3.13

log = logging.getLogger(__name__)

ANONYMOUS = "anonymous"
DEBUG_ONLY = "debug-only"
_PRINCIPAL_ATTRIBUTE = "_auth_principal"
_REQUIREMENT_ATTRIBUTE = "__auth__"

HttpHandler = Callable[[func.HttpRequest], func.HttpResponse]
AsyncHttpHandler = Callable[[func.HttpRequest], Awaitable[func.HttpResponse]]
Handler = TypeVar("Handler", bound=Callable[..., object])


@dataclass(frozen=True)
class AuthRequirement:
    """``role``: the app role an app-only token needs and a user must hold. ``role=None``: users only
    (an on-behalf-of proxy acts for a user; an app-only token has nobody to act for)."""

    role: str | None
    scope: str

    def missing(self, caller: Principal) -> list[str]:
        """What the caller lacks; empty when the call is allowed."""
        if caller.is_app:
            if self.role is None:
                return [f"a user's token with scope {self.scope} (app-only tokens are not accepted)"]
            return [] if self.role in caller.roles else [f"app role {self.role}"]
        lacks = []
        if self.scope not in caller.scopes:
            lacks.append(f"scope {self.scope}")
        if self.role is not None and self.role not in caller.roles:
            lacks.append(f"user role {self.role}")
        return lacks

    def missing_scopes(self, caller: Principal) -> list[str]:
        """The scope values a new token would need (RFC 6750's ``scope``): the route's delegated scope
        when the caller's token lacks it. A missing app role is no scope: nothing to name there."""
        needs_user_token = caller.is_app and self.role is None
        lacks_scope = not caller.is_app and self.scope not in caller.scopes
        return [self.scope] if needs_user_token or lacks_scope else []


def requirement_of(handler: Callable[..., object]) -> AuthRequirement | str | None:
    """What a route declared: an ``AuthRequirement``, ``ANONYMOUS`` or ``DEBUG_ONLY``; None if nothing."""
    declared = getattr(handler, _REQUIREMENT_ATTRIBUTE, None)
    return declared if isinstance(declared, AuthRequirement | str) else None


def _declare(handler: Handler, requirement: AuthRequirement | str) -> Handler:
    setattr(handler, _REQUIREMENT_ATTRIBUTE, requirement)
    return handler


def anonymous(handler: Handler) -> Handler:
    """Mark a route as deliberately open (health probes). The deny-by-default test looks for this."""
    return _declare(handler, ANONYMOUS)


def debug_only(handler: HttpHandler) -> HttpHandler:
    """A route for looking inside while developing: 404 unless ``DEBUG_ENDPOINTS=true`` (the local
    stack sets it; absent means off, in Azure too)."""

    @functools.wraps(handler)
    def guarded(req: func.HttpRequest) -> func.HttpResponse:
        if not debug_endpoints_enabled():
            return Problem(404, "Not found.").response()
        return handler(req)

    return _declare(guarded, DEBUG_ONLY)


def attach_principal(req: func.HttpRequest, caller: Principal) -> None:
    """What a guard does once the token is validated and the requirement met; ``principal_of`` reads
    it back. Not in ``auth``'s public names: only guards (and the benchmark's unguarded baseline) call it."""
    setattr(req, _PRINCIPAL_ATTRIBUTE, caller)


def principal_of(req: func.HttpRequest) -> Principal:
    """The caller a guard validated for this request."""
    caller = getattr(req, _PRINCIPAL_ATTRIBUTE, None)
    if not isinstance(caller, Principal):
        raise RuntimeError("principal_of() outside a guarded handler: this request has no validated caller")
    return caller


def _is_async(handler: HttpHandler | AsyncHttpHandler) -> TypeIs[AsyncHttpHandler]:
    return inspect.iscoroutinefunction(handler)


def bearer_token(req: func.HttpRequest) -> str | None:
    scheme, _, token = (req.headers.get("Authorization") or "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class Authorizer:
    """Validates tokens for one API and guards its routes.

    ``settings`` is called once, on first use: importing a blueprint (the get_token CLI, tests)
    needs no settings, while the host reads them at start (function_app.py).
    """

    def __init__(self, settings: Callable[[], AuthSettings]) -> None:
        self._settings = settings
        self._validator: TokenValidator | None = None

    @property
    def validator(self) -> TokenValidator:
        if self._validator is None:
            self._validator = TokenValidator(self._settings())
        return self._validator

    def authorize(self, req: func.HttpRequest, requirement: AuthRequirement) -> func.HttpResponse | None:
        """None when the call may proceed (and the principal is attached), else the 401/403/503."""
        route = f"{req.method} {req.url.split('?', 1)[0]}"
        token = bearer_token(req)
        if token is None:
            log.info("401 %s: no bearer token", route)
            return problems.unauthorized("A bearer token is required.", token_presented=False).response()
        try:
            caller = self.validator.validate(token)
        except TokenError as exc:
            log.warning("401 %s: %s", route, exc.detail)  # the detail, never the token
            return problems.unauthorized(exc.reason).response()
        except TenantNotAllowed as exc:
            log.warning("403 %s: tenant %s is not served", route, exc.tenant_id)
            return problems.tenant_not_served(exc.tenant_id).response()
        except KeysUnavailable as exc:
            log.error("503 %s: %s", route, exc)
            return problems.unavailable("The API cannot check tokens right now.").response()
        lacks = requirement.missing(caller)
        if lacks:
            who = "app" if caller.is_app else "user"
            log.warning("403 %s: %s oid=%s appid=%s lacks %s", route, who, caller.object_id, caller.app_id, lacks)
            scopes = requirement.missing_scopes(caller)
            return problems.forbidden(f"The caller lacks {' and '.join(lacks)}.", lacks, scopes).response()
        attach_principal(req, caller)
        return None

    async def authorize_async(self, req: func.HttpRequest, requirement: AuthRequirement) -> func.HttpResponse | None:
        """``authorize`` for async handlers. A token validated before is checked inline (no I/O); any
        other runs on a worker thread, because checking it may fetch the tenant's keys over blocking
        HTTP, and the event loop must keep serving other requests meanwhile."""
        token = bearer_token(req)
        if token is None or self.validator.cached(token) is not None:
            return self.authorize(req, requirement)
        return await asyncio.to_thread(self.authorize, req, requirement)

    def requires(self, role: str | None = None, *, scope: str | None = None) -> RouteGuard:
        """Guard a handler: app role ``role``, or delegated ``scope`` + the user's ``role``.

        ``requires(scope="access_as_user")`` alone admits users' tokens with that scope, and no app.
        The scope is always named: it cannot default to the role's value, which Entra would refuse.
        """
        if not scope or role == scope:
            raise ValueError(
                "requires() needs a scope whose value differs from the role's (Entra refuses a shared value)"
            )
        return RouteGuard(self, AuthRequirement(role, scope))


class RouteGuard:
    """The decorator ``Authorizer.requires`` returns: a sync or async handler keeps its type and its
    signature (``req`` only), and answers the refusal instead of running when the caller may not."""

    def __init__(self, authorizer: Authorizer, requirement: AuthRequirement) -> None:
        self.authorizer, self.requirement = authorizer, requirement

    @overload
    def __call__(self, handler: AsyncHttpHandler) -> AsyncHttpHandler: ...
    @overload
    def __call__(self, handler: HttpHandler) -> HttpHandler: ...
    def __call__(self, handler: HttpHandler | AsyncHttpHandler) -> HttpHandler | AsyncHttpHandler:
        authorize, requirement = self.authorizer.authorize, self.requirement
        if _is_async(handler):
            authorize_async = self.authorizer.authorize_async

            @functools.wraps(handler)
            async def guarded_async(req: func.HttpRequest) -> func.HttpResponse:
                refusal = await authorize_async(req, requirement)
                return refusal if refusal is not None else await handler(req)

            return _declare(guarded_async, requirement)

        @functools.wraps(handler)
        def guarded(req: func.HttpRequest) -> func.HttpResponse:
            refusal = authorize(req, requirement)
            return refusal if refusal is not None else handler(req)

        return _declare(guarded, requirement)
