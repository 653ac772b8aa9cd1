"""``/{tenant}/oauth2/v2.0/authorize``: a minimal sign-in page for the authorization code flow.

Enough for MSAL's ``initiate_auth_code_flow`` / ``acquire_token_by_auth_code_flow`` with PKCE and
for a developer to sign in as a directory user in a browser. Errors before the redirect URI is
trusted are shown on the page (never sent to an unchecked URI), as Entra does.
"""

from __future__ import annotations

import html
import re
import secrets
import time
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from . import errors, grants, redirect_uris
from .directory import FIRST_PARTY_CLIENTS
from .discovery import path_tenant
from .state import AuthCode, State
from .token_endpoint import read_form

CODE_LIFETIME = 600
# Entra publishes no limit; oversized values end in AADSTS90015 ("Requested query string is too long"),
# reported near 1,800 characters for state. A nonce is copied into the ID token, so it stays short too.
MAX_STATE_LENGTH = 1800
MAX_NONCE_LENGTH = 1800
# RFC 7636: an S256 challenge is the verifier's base64url SHA-256; a plain one is the verifier itself.
_S256_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_PASSED_ON = (
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "response_type",
    "response_mode",
)

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in - local Entra ID emulator</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto}}label{{display:block;margin:.6rem 0}}
input{{width:100%;padding:.4rem}}.error{{color:#a4262c}}</style></head><body>
<h1>Sign in</h1><p>to <b>{client}</b> for <code>{scope}</code> (local emulator: directory users only)</p>
{error}<form method="post">{hidden}
<label>User <input name="username" value="{login_hint}" autocomplete="username" autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button></form></body></html>"""


def _page(params: dict[str, str], client_name: str, error: str = "", status: int = 200) -> HTMLResponse:
    hidden = "".join(
        f'<input type="hidden" name="{k}" value="{html.escape(params[k])}">' for k in _PASSED_ON if params.get(k)
    )
    return HTMLResponse(
        _PAGE.format(
            client=html.escape(client_name),
            scope=html.escape(params.get("scope", "")),
            hidden=hidden,
            login_hint=html.escape(params.get("login_hint", "")),
            error=f'<p class="error">{html.escape(error)}</p>' if error else "",
        ),
        status_code=status,
    )


_FORM_POST = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Working...</title></head>
<body><form method="post" action="{action}">{fields}<noscript><p>Script is off: press Continue.</p>
<button type="submit">Continue</button></noscript></form><script>document.forms[0].submit()</script></body></html>"""


def _redirect(params: dict[str, str], **values: str) -> Response:
    """Send the answer to the (already matched) redirect URI, the way the client asked.

    ``response_mode=form_post`` (what the Azure CLI's browser login asks for) gets a page that POSTs
    the fields to the redirect URI; MSAL's loopback listener ignores a code in the query then, so
    a 302 would leave ``az login`` waiting forever. Either way the target is rebuilt from the parsed
    URI, so the browser goes where the match was made.
    """
    target = redirect_uris.action(params["redirect_uri"])
    values = {**values, **({"state": params["state"]} if params.get("state") else {})}
    if params.get("response_mode") == "form_post":
        fields = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in values.items()
        )
        return HTMLResponse(_FORM_POST.format(action=html.escape(target), fields=fields))
    separator = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{separator}{urlencode(values)}", status_code=302)


def _refusal_before_redirect(state: State, params: dict[str, str], client_id: str) -> errors.EntraError | None:
    """What Entra shows on its own page rather than sending to the redirect URI: oversized values and
    a redirect URI that is not one of the client's. Fills in a missing redirect URI with the first
    registered one, as Entra uses the app's default."""
    for name, limit in (("state", MAX_STATE_LENGTH), ("nonce", MAX_NONCE_LENGTH)):
        if len(params.get(name, "")) > limit:
            return errors.query_too_long(name, limit)
    registered = state.directory.redirect_uris(client_id)
    if not params.get("redirect_uri"):
        if not registered:
            return errors.no_reply_address(client_id)
        params["redirect_uri"] = registered[0].uri
    try:
        matched = redirect_uris.match(params["redirect_uri"], registered)
    except redirect_uris.UnsafeRedirectUri:
        matched = None
    return errors.redirect_uri_mismatch(params["redirect_uri"], client_id) if matched is None else None


def _pkce_refusal(params: dict[str, str]) -> errors.EntraError | None:
    """RFC 7636 by exact name: S256 or plain (the default when a challenge comes without a method)."""
    method, challenge = params.get("code_challenge_method"), params.get("code_challenge")
    if method is not None and method not in ("S256", "plain"):
        return errors.invalid_code_challenge_method(method)
    if challenge is None:
        return None
    shape = _S256_CHALLENGE if method == "S256" else grants.PKCE_VERIFIER
    return None if shape.match(challenge) else errors.invalid_code_challenge_size()


def _purge_expired(state: State) -> None:
    """Codes (and the nonces they carry) last ten minutes; nothing older is kept."""
    now = time.time()
    state.codes = {k: v for k, v in state.codes.items() if v.expires > now}


async def authorize(request: Request) -> Response:
    state: State = request.app.state.emulator
    tenant = path_tenant(request)
    params = dict(request.query_params)
    if request.method == "POST":
        params.update(await read_form(request))
    client_id = params.get("client_id", "")
    application = state.directory.application(client_id)
    where = tenant or state.directory.home
    # A single-tenant app exists only at home; a multi-tenant one is known everywhere (consent decides).
    known = client_id.lower() in FIRST_PARTY_CLIENTS or (
        application is not None and (where.home or application.multi_tenant)
    )
    if not known:
        return _page(params, client_id, str(errors.application_not_found(client_id, where.tenant_id)), 400)
    client_name = state.directory.client_name(client_id)
    refusal = _refusal_before_redirect(state, params, client_id)
    if refusal is not None:
        return _page(params, client_name, str(refusal), 400)
    if params.get("response_type") != "code":
        return _redirect(
            params,
            error="unsupported_response_type",
            error_description="Only the authorization code flow (response_type=code) is supported.",
        )
    pkce = _pkce_refusal(params)
    if pkce is not None:
        return _redirect(params, error=pkce.error, error_description=str(pkce))
    if request.method == "GET":
        return _page(params, client_name)

    user = state.directory.find_user_anywhere(params.get("username", ""))
    # compare_digest takes non-ASCII only as bytes (a str raises TypeError): compare the UTF-8.
    if (
        user is None
        or not user.password
        or not secrets.compare_digest(user.password.encode(), params.get("password", "").encode())
    ):
        return _page(params, client_name, str(errors.invalid_password()), 200)
    client = grants.Client(client_id, client_name, "0", "none", application)
    try:
        member_of = grants.member_tenant(state, tenant, user, client)
        request_scope = grants.parse_scope(state, params.get("scope", "openid"), member_of)
        grants.delegated_scopes(state, client, user, request_scope)
    except errors.EntraError as exc:
        return _redirect(params, error=exc.error, error_description=str(exc))
    _purge_expired(state)
    code = secrets.token_urlsafe(32)
    challenge = params.get("code_challenge")
    state.codes[code] = AuthCode(
        client_id=client_id,
        redirect_uri=params["redirect_uri"],
        user_oid=user.object_id,
        scope=params.get("scope", ""),
        code_challenge=challenge,
        code_challenge_method=params.get("code_challenge_method", "plain"),
        nonce=params.get("nonce"),
        expires=time.time() + CODE_LIFETIME,
    )
    return _redirect(params, code=code)
