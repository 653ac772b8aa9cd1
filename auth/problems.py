"""How answers leave the apps: RFC 9457 problem details for errors, plain JSON for the rest."""

from __future__ import annotations

import json
from http import HTTPStatus

import azure.functions as func

# RFC 6750 §3.1 defines invalid_token and insufficient_scope; its text is the documentation.
BEARER_ERRORS = "https://www.rfc-editor.org/rfc/rfc6750#section-3.1"


def json_response(value: object, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(value), status_code=status, headers=headers or {}, mimetype="application/json")


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


def unauthorized(detail: str, *, token_presented: bool = True) -> func.HttpResponse:
    """401. With no token at all RFC 6750 says to send the bare challenge, without an error code."""
    challenge = f'Bearer error="invalid_token", error_description="{_quoted(detail)}"' if token_presented else "Bearer"
    return problem(
        401,
        detail,
        title="Invalid or missing access token",
        type_=BEARER_ERRORS,
        headers={"WWW-Authenticate": challenge},
    )


def forbidden(detail: str, missing: list[str]) -> func.HttpResponse:
    challenge = (
        f'Bearer error="insufficient_scope", error_description="{_quoted(detail)}", '
        f'scope="{_quoted(" ".join(missing))}"'
    )
    return problem(
        403,
        detail,
        title="Insufficient permissions",
        type_=BEARER_ERRORS,
        headers={"WWW-Authenticate": challenge},
        missing=missing,
    )


def unavailable(detail: str, retry_after: int = 5) -> func.HttpResponse:
    return problem(503, detail, headers={"Retry-After": str(retry_after)})
