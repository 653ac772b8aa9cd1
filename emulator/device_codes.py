"""The device code flow (RFC 8628), as Entra runs it: what ``az login --use-device-code`` uses.

The client asks ``/{tenant}/oauth2/v2.0/devicecode`` for a code, prints the message, and polls the
token endpoint (``grants.device_code``: 400 ``authorization_pending`` until someone signs in on the verification page,
``expired_token`` after ``expires_in``). The page at ``/devicelogin`` is where a person enters
the code and signs in as a directory user; ``POST /admin/device-codes`` approves a pending code
for a named user, so tests and ``localdev az login --user`` need no person.
"""

from __future__ import annotations

import html
import secrets
import time
from collections import deque

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse

from . import errors, grants
from .directory import FIRST_PARTY_CLIENTS, DirectoryError, Principal
from .discovery import path_tenant
from .state import DeviceCode, State
from .token_endpoint import NO_STORE, read_form

# Entra's user codes are short, upper case and typed by hand: no 0/O or 1/I to confuse.
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
# Limits Entra applies without publishing numbers: codes issued (by all clients together), and wrong
# codes or passwords on the verification page, within a sliding window. Guessing and flooding stop here.
ISSUE_LIMIT, ISSUE_WINDOW = 20, 60.0
FAILURE_LIMIT, FAILURE_WINDOW = 10, 300.0


def _recent(times: deque[float], window: float) -> int:
    """Drop the entries older than ``window`` seconds; how many are left."""
    now = time.time()
    while times and times[0] < now - window:
        times.popleft()
    return len(times)


def too_many_attempts() -> errors.EntraError:
    return errors.EntraError(
        50053,
        "invalid_grant",
        "Too many wrong codes or passwords were entered. Wait a few minutes, then sign in again.",
    )


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Device sign-in</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto}}label{{display:block;margin:.6rem 0}}
input{{width:100%;padding:.4rem}}.error{{color:#a4262c}}.done{{color:#107c10}}</style></head><body>
<h1>Enter code</h1><p>Sign in on another device (local emulator: directory users only).</p>{message}
<form method="post"><label>Code <input name="user_code" value="{user_code}" autocomplete="off" autofocus></label>
<label>User <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button></form></body></html>"""


def verification_uri(state: State) -> str:
    return f"{state.config.origin}/devicelogin"


async def devicecode(request: Request) -> JSONResponse:
    """``POST /{tenant}/oauth2/v2.0/devicecode``: ``client_id`` and ``scope`` in, codes and a message out."""
    tenant = path_tenant(request)
    state: State = request.app.state.emulator
    form = await read_form(request)
    client_id = grants.required(form, "client_id")
    where = tenant or state.directory.home
    application = state.directory.application(client_id)
    if client_id.lower() not in FIRST_PARTY_CLIENTS and (
        application is None or not (where.home or application.multi_tenant)
    ):
        raise errors.application_not_found(client_id, where.tenant_id)
    scope = grants.required(form, "scope")
    grants.parse_scope(state, scope, where)  # an unknown resource fails now (AADSTS500011), not after sign-in
    if _recent(state.device_codes_issued, ISSUE_WINDOW) >= ISSUE_LIMIT:
        raise errors.EntraError(
            90055,
            "temporarily_unavailable",
            f"There are too many incoming requests: at most {ISSUE_LIMIT} device codes a minute. Retry later.",
            status=429,
        )
    now = time.time()
    state.device_codes_issued.append(now)
    state.device_codes = {k: v for k, v in state.device_codes.items() if v.expires > now}
    user_code = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    code = DeviceCode(
        device_code=secrets.token_urlsafe(48),
        user_code=user_code,
        client_id=client_id,
        scope=scope,
        expires=now + state.config.device_code_lifetime,
        tenant_id=tenant.tenant_id if tenant else None,
    )
    state.device_codes[code.device_code] = code
    state.activity.count("device_code:issued")
    uri = verification_uri(state)
    return JSONResponse(
        {
            "user_code": user_code,
            "device_code": code.device_code,
            "verification_uri": uri,
            "expires_in": state.config.device_code_lifetime,
            "interval": state.config.device_code_interval,
            "message": f"To sign in, use a web browser to open the page {uri} and enter the code {user_code} "
            "to authenticate.",
        },
        headers=NO_STORE,
    )


def approve(state: State, user_code: str, user: Principal) -> DeviceCode:
    """Sign ``user`` in for a pending code; Entra's sign-in rules (assignment, consent) apply here.

    A code is approved once: whoever enters it next (another user included) is refused, so the
    poll can never turn into a second person's token.
    """
    if _recent(state.device_login_failures, FAILURE_WINDOW) >= FAILURE_LIMIT:
        raise too_many_attempts()
    wanted = user_code.strip().upper().replace("-", "").encode()
    code = next(
        (
            c
            for c in state.device_codes.values()
            # Bytes: compare_digest raises TypeError on a non-ASCII str.
            if secrets.compare_digest(c.user_code.encode(), wanted) and not c.redeemed and c.user_oid is None
        ),
        None,
    )
    if code is None or code.expires < time.time():
        state.device_login_failures.append(time.time())
        raise errors.EntraError(
            70018, "bad_verification_code", "Invalid verification code: it was mistyped, used or it expired."
        )
    application = state.directory.application(code.client_id)
    client = grants.Client(code.client_id, state.directory.client_name(code.client_id), "0", "none", application)
    requested = state.directory.tenant_at(code.tenant_id) if code.tenant_id else None
    member_of = grants.member_tenant(state, requested, user, client)
    grants.delegated_scopes(state, client, user, grants.parse_scope(state, code.scope, member_of))
    code.user_oid = user.object_id
    state.activity.count("device_code:approved")
    return code


def _page(user_code: str = "", message: str = "") -> HTMLResponse:
    return HTMLResponse(_PAGE.format(user_code=html.escape(user_code), message=message))


async def devicelogin(request: Request) -> HTMLResponse:
    """The page a person opens: code, user and password; the directory's local passwords only."""
    if request.method == "GET":
        return _page(request.query_params.get("otc", ""))
    state: State = request.app.state.emulator
    form = await read_form(request)
    if _recent(state.device_login_failures, FAILURE_WINDOW) >= FAILURE_LIMIT:
        return _page(form.get("user_code", ""), f'<p class="error">{html.escape(str(too_many_attempts()))}</p>')
    user = state.directory.find_user_anywhere(form.get("username", ""))
    # Bytes: compare_digest raises TypeError on a non-ASCII str (a password typed with an accent).
    password = form.get("password", "").encode()
    if user is None or not user.password or not secrets.compare_digest(user.password.encode(), password):
        state.device_login_failures.append(time.time())
        return _page(form.get("user_code", ""), f'<p class="error">{html.escape(str(errors.invalid_password()))}</p>')
    try:
        code = approve(state, form.get("user_code", ""), user)
    except errors.EntraError as exc:
        return _page(form.get("user_code", ""), f'<p class="error">{html.escape(str(exc))}</p>')
    client = html.escape(state.directory.client_name(code.client_id))
    return HTMLResponse(
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signed in</title></head><body>'
        f'<p class="done">{html.escape(user.upn or user.name)} signed in to {client} on your device. '
        "You may close this window.</p></body></html>"
    )


def approve_for_admin(state: State, body: dict) -> dict:
    """``POST /admin/device-codes`` ``{userCode, user}``: a directory user approves, without a password."""
    user_code, name = (body.get("userCode"), body.get("user"))
    if not isinstance(user_code, str) or not isinstance(name, str) or not user_code or not name:
        raise DirectoryError("missing field(s): userCode and user")
    user = state.directory.find_user_anywhere(name)
    if user is None:
        raise DirectoryError(f"no user {name!r} in the directory")
    try:
        code = approve(state, user_code, user)
    except errors.EntraError as exc:
        raise DirectoryError(str(exc)) from None
    return {"userCode": code.user_code, "user": user.upn, "client": state.directory.client_name(code.client_id)}
