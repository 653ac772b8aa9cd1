"""The admin consent page: ``/{tenant}/v2.0/adminconsent`` and the v1 ``/{tenant}/adminconsent``.

A Global Administrator of the tenant signs in and accepts; the consent itself (``consent.give``)
creates the enterprise application there. The answer is a redirect to one of the app's registered
redirect URIs with ``admin_consent=True&tenant=...&state=...``. The ``tenant`` value on that
redirect says which tenant consented, but anyone can forge a redirect: an app must never authorize
on it (Entra's documentation says so in as many words).
"""

from __future__ import annotations

import html
import secrets

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from . import errors
from .authorize import _redirect, _refusal_before_redirect
from .consent import Consented, give
from .directory import Application, Directory, Principal, Tenant
from .discovery import path_tenant
from .state import State
from .token_endpoint import read_form


def consent(state: State, tenant: Tenant, app: Application) -> Consented:
    """Give the consent and keep it across restarts."""
    done = give(state.directory, tenant, app)
    state.consents.add(tenant, app)
    state.activity.count("consent", f"consent:{tenant.name}:{app.name}")
    return done


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Permissions requested - local Entra ID emulator</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto}}label{{display:block;margin:.6rem 0}}
input{{width:100%;padding:.4rem}}.error{{color:#a4262c}}li{{margin:.2rem 0}}</style></head><body>
<h1>Permissions requested</h1><p><b>{client}</b> ({app_id}) asks an administrator of <b>{tenant}</b> to accept,
for the whole organization:</p><ul>{permissions}</ul>
<p>Accepting creates the enterprise application in your tenant. Sign in as a Global Administrator of the tenant
(local emulator: directory users only).</p>{error}<form method="post">{hidden}
<label>User <input name="username" autocomplete="username" autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Accept</button></form></body></html>"""
_PASSED_ON = ("client_id", "scope", "redirect_uri", "state")


def _permissions(directory: Directory, app: Application) -> list[str]:
    lines = [f"Sign in and use {app.display_name}"]
    for access in app.required_access:
        name = directory.resource(access.resource).display_name
        lines += [f"{name}: {scope} (delegated, for every user)" for scope in access.scopes]
        lines += [f"{name}: {role} (application permission)" for role in access.roles]
    return lines


def _page(
    state: State, params: dict[str, str], app: Application | None, where: str, error: str = "", status: int = 200
) -> HTMLResponse:
    hidden = "".join(
        f'<input type="hidden" name="{k}" value="{html.escape(params[k])}">' for k in _PASSED_ON if params.get(k)
    )
    permissions = _permissions(state.directory, app) if app else []
    return HTMLResponse(
        _PAGE.format(
            client=html.escape(app.display_name if app else params.get("client_id", "")),
            app_id=html.escape(app.app_id if app else ""),
            tenant=html.escape(where),
            permissions="".join(f"<li>{html.escape(p)}</li>" for p in permissions),
            hidden=hidden,
            error=f'<p class="error">{html.escape(error)}</p>' if error else "",
        ),
        status_code=status,
    )


def _scope_refusal(params: dict[str, str], v2: bool) -> errors.EntraError | None:
    """v2 asks for the app's static permissions with ``/.default`` scopes; anything else is refused."""
    if not v2:
        return None
    scopes = params.get("scope", "").split()
    if not scopes:
        return errors.missing_parameter("scope")
    dynamic = [s for s in scopes if not s.endswith("/.default")]
    if dynamic:
        return errors.invalid_scope(
            " ".join(scopes), "Admin consent for application permissions needs the static '/.default' scope."
        )
    return None


async def admin_consent(request: Request) -> Response:
    """``/{tenant}/v2.0/adminconsent`` and ``/{tenant}/adminconsent``: the page, then the redirect."""
    state: State = request.app.state.emulator
    v2 = "/v2.0/" in request.url.path
    segment = request.path_params["tenant"]
    params = dict(request.query_params)
    if request.method == "POST":
        params.update(await read_form(request))
    params.pop("response_mode", None)  # consent answers with a redirect, always
    if segment.lower() == "common":
        # Entra: "Do not use 'common'": the tenant must be one the admin belongs to.
        return _page(state, params, None, segment, str(errors.tenant_not_found(segment)), 400)
    tenant = path_tenant(request)  # None: organizations, decided by the admin who signs in
    where = tenant.display_name if tenant else segment
    client_id = params.get("client_id", "")
    app = state.directory.application(client_id)
    if app is None or not ((tenant is None or tenant.home) or app.multi_tenant):
        not_found = errors.application_not_found(client_id, tenant.tenant_id if tenant else segment)
        return _page(state, params, None, where, str(not_found), 400)
    # As on the sign-in page: the redirect URI must be one of the client's before anything goes to it.
    refusal = _refusal_before_redirect(state, params, client_id)
    if refusal is not None:
        return _page(state, params, app, where, str(refusal), 400)
    scope_refusal = _scope_refusal(params, v2)
    if scope_refusal is not None:
        return _redirect(params, error=scope_refusal.error, error_description=str(scope_refusal))
    if request.method == "GET":
        return _page(state, params, app, where)

    user = state.directory.find_user_anywhere(params.get("username", ""))
    if (
        user is None
        or not user.password
        or not secrets.compare_digest(user.password.encode(), params.get("password", "").encode())
    ):
        return _page(state, params, app, where, str(errors.invalid_password()))
    try:
        consented = consent(state, _admin_tenant(state, tenant, user, app), app)
    except errors.EntraError as exc:
        if exc.code in (50020, 90094):  # the person is wrong, not the request: stay on the page
            return _page(state, params, app, where, str(exc), 403 if exc.code == 90094 else 200)
        return _redirect(params, error=exc.error, error_description=str(exc))
    answer = {"admin_consent": "True", "tenant": consented.tenant.tenant_id}
    if v2:
        answer["scope"] = params.get("scope", "")
    return _redirect(params, **answer)


def _admin_tenant(state: State, tenant: Tenant | None, user: Principal, app: Application) -> Tenant:
    """The tenant being consented for: the requested one (the user must belong to it and be one of its
    Global Administrators), or the admin's own for ``organizations``."""
    own = state.directory.tenant_of(user)
    if tenant is not None and tenant is not own:
        raise errors.user_of_another_tenant(
            user.upn or user.name, own.tenant_id, tenant.tenant_id, app.app_id, app.display_name
        )
    if not own.is_global_administrator(user):
        raise errors.admin_consent_required(app.app_id, app.display_name)
    return own
