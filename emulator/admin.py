"""Loopback-only admin API: what the CLI, the tests and the demo use to look and to change things.

Run-time changes (assignments, grants) live in memory: a restart goes back to directory.json.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse

from . import consent_page, device_codes, errors
from .consent import withdraw
from .directory import DirectoryError, Tenant
from .signing_keys import KeyRollError, SigningKey
from .state import State

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


# The admin API's bodies are a few fields; a larger one is refused before it is parsed.
MAX_BODY_BYTES = 64 * 1024


async def _json(request: Request) -> dict:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise DirectoryError(f"the body is over {MAX_BODY_BYTES} bytes")
    try:
        parsed = json.loads(body or b"{}")
    except RecursionError:
        raise DirectoryError("the body is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, and integers over Python's 4,300-digit limit
        raise DirectoryError(f"the body is not JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise DirectoryError("the body must be a JSON object")
    return parsed


def _fields(body: dict, *names: str) -> list[str]:
    missing = [n for n in names if not isinstance(body.get(n), str) or not body[n]]
    if missing:
        raise DirectoryError(f"missing field(s): {', '.join(missing)}")
    return [body[n] for n in names]


def _scopes(body: dict) -> list[str]:
    scopes = body.get("scopes") or []
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise DirectoryError("'scopes' must be a list of strings")
    return scopes


def _browser_refusal(request: Request, own_origin: str) -> str | None:
    """Why a request that a web page could have sent is refused, or None.

    Loopback is not enough: a page open in the developer's browser reaches loopback too. Browsers
    send ``Origin`` with every cross-origin POST and DELETE, and can send a cross-origin body without
    asking first only as text/plain or a form, so: our own origin (or none, as from the CLI), and JSON.
    """
    origin = request.headers.get("origin")
    if origin is not None and origin != own_origin:
        return f"Origin {origin[:100]} may not use the admin API"
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type != "application/json":
            return "the admin API takes application/json only"
    return None


def _tenant(state: State, body: dict) -> Tenant:
    """The optional ``tenant`` field (name in directory.json, id or domain); the home tenant without it."""
    name = body.get("tenant")
    if name is None:
        return state.directory.home
    if not isinstance(name, str) or not name:
        raise DirectoryError("'tenant' must be a tenant name, id or domain")
    return state.directory.tenant_named(name)


def admin_endpoint(handler: Callable[[Request, State], Awaitable[dict | list]]) -> Callable:
    """Loopback only, JSON only, no other origin; the handler's result is the JSON body; a bad request
    is a 400 with the reason."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> JSONResponse:
        host = request.client.host if request.client else ""
        if host not in LOOPBACK:
            return JSONResponse({"error": "the admin API answers on loopback only"}, status_code=403)
        refusal = _browser_refusal(request, request.app.state.emulator.config.origin)
        if refusal:
            return JSONResponse({"error": refusal}, status_code=403 if "Origin" in refusal else 415)
        try:
            return JSONResponse(await handler(request, request.app.state.emulator))
        except (DirectoryError, KeyRollError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    return endpoint


@admin_endpoint
async def directory(request: Request, state: State) -> dict:
    return state.directory.summary()


@admin_endpoint
async def stats(request: Request, state: State) -> dict:
    """What happened since the start or the last reset: named counters (``jwks:fetch``, grants, ...) and
    one ``route:METHOD /path/{template}`` counter per route. DELETE resets the counters, nothing else."""
    if request.method == "DELETE":
        state.activity.counters.clear()
    return dict(state.activity.counters)


@admin_endpoint
async def recent_tokens(request: Request, state: State) -> list:
    return list(state.activity.recent)


@admin_endpoint
async def reset(request: Request, state: State) -> dict:
    state.reset()
    return {"reset": True}


@admin_endpoint
async def assignments(request: Request, state: State) -> dict:
    """POST adds an app role assignment, DELETE removes one: {principal, resource, role, tenant?}.

    In a tenant other than home, this is that tenant's admin assigning roles of our API.
    """
    body = await _json(request)
    principal, resource, role = _fields(body, "principal", "resource", "role")
    tenant = _tenant(state, body)
    if request.method == "POST":
        changed = tenant.assign(principal, resource, role)
    else:
        changed = tenant.unassign(principal, resource, role)
    return {"principal": principal, "resource": resource, "role": role, "tenant": tenant.name, "changed": changed}


@admin_endpoint
async def grants(request: Request, state: State) -> dict:
    """A delegated permission grant: {clientAppId, resource, scopes, tenant?}; DELETE revokes the client's
    grants on the resource."""
    body = await _json(request)
    client, resource = _fields(body, "clientAppId", "resource")
    tenant = _tenant(state, body)
    if request.method == "DELETE":
        return {"revoked": tenant.revoke(client, resource)}
    tenant.grant(client, resource, _scopes(body))
    return {"granted": True}


@admin_endpoint
async def role_assignments(request: Request, state: State) -> dict:
    """Azure RBAC: GET lists resources and assignments; POST adds, DELETE removes {principal, role, scope}.

    ``role`` is a built-in role's name or id. A change applies at the caller's next ARM request.
    """
    azure = state.directory.azure
    if request.method == "GET":
        return azure.summary()
    principal, role, scope = _fields(await _json(request), "principal", "role", "scope")
    try:
        if request.method == "POST":
            assignment, changed = azure.assign(principal, role, scope)
        else:
            assignment, changed = azure.remove(principal, role, scope)
    except ValueError as exc:
        raise DirectoryError(str(exc)) from None
    return {"changed": changed, "roleAssignment": azure.assignment_json(assignment)}


@admin_endpoint
async def consent(request: Request, state: State) -> dict:
    """Admin consent without the page, as a tenant admin would through Graph: {tenant, application}.

    Creates the app's enterprise application in the tenant (and, multi-tier, that of an API listing
    it in knownClientApplications), grants its delegated permissions and assigns its app permissions.
    DELETE takes back a consent given since start (the demo's before/after rows run again).
    """
    body = await _json(request)
    tenant_name, name = _fields(body, "tenant", "application")
    tenant = state.directory.tenant_named(tenant_name)
    app = state.directory.applications_by_name.get(name) or state.directory.application(name)
    if app is None:
        raise DirectoryError(f"no application named {name!r}")
    if request.method == "DELETE":
        withdrawn = withdraw(state.directory, state.consents, tenant, app)
        return {"tenant": tenant.name, "application": app.name, "withdrawn": withdrawn}
    try:
        done = consent_page.consent(state, tenant, app)
    except errors.EntraError as exc:
        raise DirectoryError(str(exc)) from None
    return {"tenant": tenant.name, "tenantId": tenant.tenant_id, "application": app.name, "created": list(done.created)}


@admin_endpoint
async def pre_authorizations(request: Request, state: State) -> dict:
    """POST pre-authorizes a client on an API ({clientAppId, resource, scopes}); DELETE removes it."""
    body = await _json(request)
    client, resource = _fields(body, "clientAppId", "resource")
    scopes = _scopes(body) if request.method == "POST" else None
    state.directory.pre_authorize(client, resource, scopes)
    return {"clientAppId": client, "resource": resource, "scopes": scopes}


@admin_endpoint
async def credentials(request: Request, state: State) -> dict:
    """A new client secret for an app registration, shown once (``az ad app credential reset``)."""
    (name,) = _fields(await _json(request), "application")
    app_id = state.directory.resource(name).app_id
    if state.directory.application(app_id) is None:
        raise DirectoryError(f"{name} is not an app registration")
    return {"application": name, "appId": app_id, "secretText": state.client_secrets.create(app_id)}


@admin_endpoint
async def mint(request: Request, state: State) -> dict:
    """Test factory: sign arbitrary claims with the tenant's key (expired, wrong audience, other tenant...)."""
    claims = (await _json(request)).get("claims")
    if not isinstance(claims, dict):
        raise DirectoryError("'claims' must be an object")
    try:
        return {"token": state.issuer.sign(claims)}
    except (TypeError, ValueError, jwt.InvalidTokenError) as exc:  # PyJWT checks iss, aud, exp... types
        raise DirectoryError(f"cannot sign these claims: {exc}") from None


@admin_endpoint
async def device_code_approvals(request: Request, state: State) -> dict:
    """Approve a pending device code for a named user (``az login --use-device-code`` without a person)."""
    return device_codes.approve_for_admin(state, await _json(request))


# -- signing keys -------------------------------------------------------------------------------


def _key_answer(state: State, done: dict) -> dict:
    return {**done, "keys": state.issuer.keys.summary()}


def _retired(state: State, key: SigningKey) -> dict:
    """Retiring a key also empties the managed identity cache of the tokens it signed."""
    return {"retired": key.kid, "evictedManagedIdentityTokens": state.forget_tokens_signed_by(key.kid)}


@admin_endpoint
async def keys(request: Request, state: State) -> dict:
    """GET lists the published keys; POST adds one (published, not signing); DELETE {kid} retires one."""
    if request.method == "GET":
        return _key_answer(state, {})
    if request.method == "POST":
        await _json(request)
        return _key_answer(state, {"added": state.issuer.keys.add().kid})
    (kid,) = _fields(await _json(request), "kid")
    return _key_answer(state, _retired(state, state.issuer.keys.retire(kid)))


@admin_endpoint
async def signing_key(request: Request, state: State) -> dict:
    """POST {kid}: new tokens are signed with this published key."""
    (kid,) = _fields(await _json(request), "kid")
    return _key_answer(state, {"signing": state.issuer.keys.use(kid).kid})


@admin_endpoint
async def key_roll(request: Request, state: State) -> dict:
    """POST {emergency: bool}: add a key and sign with it; in an emergency retire the old one at once."""
    emergency = (await _json(request)).get("emergency", False)
    if not isinstance(emergency, bool):
        raise DirectoryError("'emergency' must be true or false")
    key, retired = state.issuer.keys.roll(emergency=emergency)
    done = {"added": key.kid, "signing": key.kid}
    return _key_answer(state, {**done, **(_retired(state, retired) if retired else {})})
