"""Answers that fail: one exception, ``Problem``, and one decorator, ``answers_problems``.

Code that finds a failure (a body, a payload, storage, a downstream API, a token request) raises a
``Problem`` (or a subclass naming the failure) with the status and words the client should get;
the decorator on each handler turns it into an RFC 9457 ``application/problem+json`` answer. Handlers
hold no try/except of their own. The guards in ``auth/`` answer their 401s and 403s with the same
type, with the bearer challenges of RFC 6750.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import overload

import azure.functions as func

from .responses import Json

log = logging.getLogger(__name__)

HttpHandler = Callable[[func.HttpRequest], func.HttpResponse]
AsyncHttpHandler = Callable[[func.HttpRequest], Awaitable[func.HttpResponse]]

RETRY_LATER = {"Retry-After": "5"}  # a 503 tells the client to wait a few seconds before trying again
# RFC 6750 §3.1 defines invalid_token and insufficient_scope; its text is the documentation.
BEARER_ERRORS = "https://www.rfc-editor.org/rfc/rfc6750#section-3.1"


class Problem(Exception):
    """An error answer: ``status``, the ``detail`` the client reads, and RFC 9457 extension members.

    ``reason`` is for the log only (what went wrong inside; never sent). The log gets the reason or
    the title, never the detail: a detail may quote what others wrote (Entra's text names users).
    Raise it where the failure is found; ``answers_problems`` sends it.
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        type_: str = "about:blank",
        headers: Mapping[str, str] | None = None,
        reason: str | None = None,
        **extensions: object,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail
        self.title = title or HTTPStatus(status).phrase
        self.type = type_
        self.headers = dict(headers or {})
        self.reason = reason
        self.extensions = extensions

    def body(self) -> Json:
        return {"type": self.type, "title": self.title, "status": self.status, "detail": self.detail, **self.extensions}

    def response(self) -> func.HttpResponse:
        return func.HttpResponse(
            json.dumps(self.body()),
            status_code=self.status,
            headers=self.headers,
            mimetype="application/problem+json",
            charset="utf-8",
        )


def _answer(req: func.HttpRequest, problem: Problem) -> func.HttpResponse:
    level = logging.WARNING if problem.status >= 500 else logging.INFO
    route = f"{req.method} {req.url.split('?', 1)[0]}"  # no query string: it may carry what is not ours to log
    log.log(level, "%d %s: %s", problem.status, route, problem.reason or problem.title)
    return problem.response()


@overload
def answers_problems(handler: AsyncHttpHandler) -> AsyncHttpHandler: ...
@overload
def answers_problems(handler: HttpHandler) -> HttpHandler: ...
def answers_problems(handler: HttpHandler | AsyncHttpHandler) -> HttpHandler | AsyncHttpHandler:
    """The one way a handler's failure becomes an answer: a ``Problem`` raised inside is sent as problem
    details (and logged: status, route without its query, reason or title); anything else is a bug."""
    if inspect.iscoroutinefunction(handler):
        async_handler: AsyncHttpHandler = handler

        @functools.wraps(handler)
        async def run_async(req: func.HttpRequest) -> func.HttpResponse:
            try:
                return await async_handler(req)
            except Problem as problem:
                return _answer(req, problem)

        return run_async

    sync_handler: HttpHandler = handler  # type: ignore[assignment]

    @functools.wraps(handler)
    def run(req: func.HttpRequest) -> func.HttpResponse:
        try:
            return sync_handler(req)
        except Problem as problem:
            return _answer(req, problem)

    return run


def _quoted(value: str) -> str:
    """An RFC 6750 auth-param value: printable ASCII without quote or backslash."""
    return "".join(c for c in value if 0x20 <= ord(c) < 0x7F and c not in '"\\')


def bearer_challenge(**params: str) -> str:
    """A ``WWW-Authenticate`` value (RFC 6750 §3): ``Bearer`` and its auth-params, each value made safe
    to quote. ``scope`` must hold scope values only, space-separated: a client parses it as such."""
    quoted = ", ".join(f'{name}="{_quoted(value)}"' for name, value in params.items())
    return f"Bearer {quoted}" if quoted else "Bearer"


def unauthorized(detail: str, *, token_presented: bool = True) -> Problem:
    """401. With no token at all RFC 6750 says to send the bare challenge, without an error code."""
    challenge = bearer_challenge(error="invalid_token", error_description=detail) if token_presented else "Bearer"
    return Problem(
        401,
        detail,
        title="Invalid or missing access token",
        type_=BEARER_ERRORS,
        headers={"WWW-Authenticate": challenge},
    )


def forbidden(detail: str, missing: list[str], scopes: list[str]) -> Problem:
    """403 ``insufficient_scope``. ``missing`` says in words what the caller lacks (the body's list);
    ``scopes`` are the scope values a new token would need (the challenge's ``scope``, when any)."""
    params = {"error": "insufficient_scope", "error_description": detail}
    if scopes:
        params["scope"] = " ".join(scopes)
    return Problem(
        403,
        detail,
        title="Insufficient permissions",
        type_=BEARER_ERRORS,
        headers={"WWW-Authenticate": bearer_challenge(**params)},
        missing=missing,
    )


def tenant_not_served(tenant_id: str) -> Problem:
    """403 for a token from a tenant off the allow-list. No challenge: no scope, and no other token
    from that tenant, would change the answer; its roles were granted by that tenant's own admins."""
    return Problem(
        403,
        f"Tenant {tenant_id} is not a customer of this API: tokens from it are not accepted, whatever roles "
        "they carry.",
        title="Tenant not allowed",
        tenant=tenant_id,
    )


def unavailable(detail: str, *, reason: str | None = None) -> Problem:
    """503: a dependency is down; nothing was changed, and the client may retry after a few seconds."""
    return Problem(503, detail, headers=RETRY_LATER, reason=reason)


# -- the same answers, described for the OpenAPI document -----------------------------------------

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details. Extension members: `missing` (403: the role or scope lacking), "
    "`errors` (400: one entry per bad field), `fix` (what to change), `consentUri`/`clientId`/`scopes` (consent), "
    "`tenant` (403: the tenant id this API does not serve).",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "missing": {"type": "array", "items": {"type": "string"}},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["pointer", "detail"],
                "properties": {"pointer": {"type": "string"}, "detail": {"type": "string"}},
            },
        },
        "fix": {"type": "array", "items": {"type": "string"}},
        "tenant": {"type": "string"},
    },
}

DOCUMENTED = {
    400: "The request is malformed: the detail (and `errors`, per field) says what to change.",
    401: 'No valid bearer token. `WWW-Authenticate` carries `error="invalid_token"` (a bare `Bearer` '
    "challenge when no token was sent).",
    403: "The token is valid but lacks the app role or the delegated scope and user role: see `missing` "
    'and `WWW-Authenticate: Bearer error="insufficient_scope"`. Or the token comes from a tenant this API '
    "does not serve (`tenant` names it).",
    404: "No such resource, or one the caller may not see (never distinguished).",
    409: "A conflict reported by the API this route calls.",
    413: "The body is larger than 64 KiB.",
    415: "The body is not `application/json`.",
    422: "This `Idempotency-Key` was used before with a different body.",
    502: "A service this route calls refused in a way the caller cannot fix.",
    503: "A dependency (token keys, storage, the identity provider, the API) is unavailable: retry after "
    "`Retry-After` seconds. Nothing was changed.",
}


def problem_responses(*statuses: int) -> dict[str, Json]:
    """OpenAPI response objects for error statuses, all ``application/problem+json``."""
    return {
        str(status): {
            "description": DOCUMENTED[status],
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
