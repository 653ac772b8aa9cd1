"""Answers that fail: RFC 9457 problem details, the bearer challenges of RFC 6750, and the one mapping
from a downstream API's refusal to what our own client hears."""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus

import azure.functions as func

from .responses import Json

# RFC 6750 §3.1 defines invalid_token and insufficient_scope; its text is the documentation.
BEARER_ERRORS = "https://www.rfc-editor.org/rfc/rfc6750#section-3.1"


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    type_: str = "about:blank",
    headers: dict[str, str] | None = None,
    **extensions: object,
) -> func.HttpResponse:
    body = {
        "type": type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extensions,
    }
    return func.HttpResponse(
        json.dumps(body),
        status_code=status,
        headers=headers or {},
        mimetype="application/problem+json",
        charset="utf-8",
    )


def _quoted(value: str) -> str:
    """An RFC 6750 auth-param value: printable ASCII without quote or backslash."""
    return "".join(c for c in value if 0x20 <= ord(c) < 0x7F and c not in '"\\')


def bearer_challenge(**params: str) -> str:
    """A ``WWW-Authenticate`` value (RFC 6750 §3): ``Bearer`` and its auth-params, each value made safe
    to quote. ``scope`` must hold scope values only, space-separated: a client parses it as such."""
    quoted = ", ".join(f'{name}="{_quoted(value)}"' for name, value in params.items())
    return f"Bearer {quoted}" if quoted else "Bearer"


def unauthorized(detail: str, *, token_presented: bool = True) -> func.HttpResponse:
    """401. With no token at all RFC 6750 says to send the bare challenge, without an error code."""
    challenge = bearer_challenge(error="invalid_token", error_description=detail) if token_presented else "Bearer"
    return problem(
        401,
        detail,
        title="Invalid or missing access token",
        type_=BEARER_ERRORS,
        headers={"WWW-Authenticate": challenge},
    )


def forbidden(detail: str, missing: list[str], scopes: list[str]) -> func.HttpResponse:
    """403 ``insufficient_scope``. ``missing`` says in words what the caller lacks (the body's list);
    ``scopes`` are the scope values a new token would need (the challenge's ``scope``, when any)."""
    params = {"error": "insufficient_scope", "error_description": detail}
    if scopes:
        params["scope"] = " ".join(scopes)
    return problem(
        403,
        detail,
        title="Insufficient permissions",
        type_=BEARER_ERRORS,
        headers={"WWW-Authenticate": bearer_challenge(**params)},
        missing=missing,
    )


def tenant_not_served(tenant_id: str) -> func.HttpResponse:
    """403 for a token from a tenant off the allow-list. No challenge: no scope, and no other token
    from that tenant, would change the answer; its roles were granted by that tenant's own admins."""
    return problem(
        403,
        f"Tenant {tenant_id} is not a customer of this API: tokens from it are not accepted, whatever roles "
        "they carry.",
        title="Tenant not allowed",
        tenant=tenant_id,
    )


def unavailable(detail: str, retry_after: int = 5) -> func.HttpResponse:
    return problem(503, detail, headers={"Retry-After": str(retry_after)})


# A downstream API refused the request itself (bad input, unknown id, conflict, size, type): our client
# made the mistake, so it hears the API's own status and words.
RELAYED_STATUSES = frozenset({400, 404, 409, 413, 415, 422})


def from_downstream(status: int | None, body: Mapping[str, object], *, service: str) -> func.HttpResponse:
    """What our client hears when ``service`` answered ``status`` with problem ``body`` (None: no answer).

    The one mapping every app uses for the APIs it calls. A 403 names what the API said was
    missing; a 401 (after the bearer client's one retry with a fresh token) is our configuration's
    fault, so 502; anything else means the service is unavailable (503, retry later).
    """
    detail = body.get("detail")
    said = detail if isinstance(detail, str) and detail else None
    if status in RELAYED_STATUSES:
        relayed = said or f"The {service} refused the request."
        return problem(status, relayed, errors=body["errors"]) if "errors" in body else problem(status, relayed)
    if status == 403:
        missing = body.get("missing")
        return problem(
            403,
            said or f"The {service} refused.",
            title=f"Forbidden by the {service}",
            missing=missing if isinstance(missing, list) else [],
        )
    if status == 401:
        return problem(
            502,
            f"The {service} refused our token (401) twice{f': {said}' if said else ''}. Check the scope we "
            "request (NOTIFICATION_API_SCOPE) against the API's audiences (app id and App ID URI).",
        )
    return unavailable(f"The {service} is unavailable ({status or 'no answer'}); retry later.")


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
