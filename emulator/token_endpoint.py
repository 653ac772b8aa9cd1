"""``POST /{tenant}/oauth2/v2.0/token`` (and the v1 ``/oauth2/token``): HTTP in, grant out."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import JSONResponse

from . import errors, grants
from .directory import Tenant
from .discovery import path_tenant
from .state import State

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded body as a dict; a body that is not a form reads as empty (then: missing parameter)."""
    try:
        form = await request.form()
    except Exception as exc:  # python-multipart raises several types for a broken body
        raise errors.malformed_request(f"the body is not a valid form ({type(exc).__name__}).") from None
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    # client_secret_basic: RFC 6749 §2.3.1 (form-urlencoded id and secret inside Basic).
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(auth[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise errors.malformed_request("the Basic authorization header is not valid base64.") from None
        values.setdefault("client_id", unquote(client_id))
        values.setdefault("client_secret", unquote(secret))
    return values


async def token_v2(request: Request) -> JSONResponse:
    tenant = path_tenant(request)
    form = await read_form(request)
    return JSONResponse(_grant(request.app.state.emulator, form, tenant), headers=NO_STORE)


async def token_v1(request: Request) -> JSONResponse:
    """The v1 endpoint names a ``resource`` instead of scopes; same rules, same tokens."""
    tenant = path_tenant(request)
    form = await read_form(request)
    resource = form.get("resource", "").strip()
    if resource and "scope" not in form:
        form["scope"] = f"{resource}/.default"
    body = _grant(request.app.state.emulator, form, tenant)
    if resource:
        body["resource"] = resource
    return JSONResponse(body, headers=NO_STORE)


def _grant(state: State, form: dict[str, str], tenant: Tenant | None) -> dict:
    """``tenant`` is the one the path names; None for ``organizations``/``common``."""
    grant_type = grants.required(form, "grant_type")
    handler = grants.GRANTS.get(grant_type)
    if handler is None:
        raise errors.unsupported_grant_type(grant_type)
    client = grants.authenticate_client(state, form, tenant)
    state.activity.count("token_requests")
    return handler(state, form, client, tenant)
