"""Loopback-only admin API (what the CLI, tests and demo use) and the home page.

Run-time changes (assignments, grants) live in memory: a restart goes back to directory.json.
"""

from __future__ import annotations

import functools
import html
import json
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse

from .directory import DirectoryError
from .state import State

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


async def _json(request: Request) -> dict:
    try:
        body = json.loads(await request.body() or b"{}")
    except json.JSONDecodeError as exc:
        raise DirectoryError(f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise DirectoryError("the body must be a JSON object")
    return body


def _fields(body: dict, *names: str) -> list[str]:
    missing = [n for n in names if not isinstance(body.get(n), str) or not body[n]]
    if missing:
        raise DirectoryError(f"missing field(s): {', '.join(missing)}")
    return [body[n] for n in names]


def admin_endpoint(handler: Callable[[Request, State], Awaitable[dict | list]]) -> Callable:
    """Loopback only; the handler's result is the JSON body; a bad request is a 400 with the reason."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> JSONResponse:
        host = request.client.host if request.client else ""
        if host not in LOOPBACK:
            return JSONResponse({"error": "the admin API answers on loopback only"}, status_code=403)
        try:
            return JSONResponse(await handler(request, request.app.state.emulator))
        except DirectoryError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    return endpoint


@admin_endpoint
async def directory(request: Request, state: State) -> dict:
    return state.directory.summary()


@admin_endpoint
async def stats(request: Request, state: State) -> dict:
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
    """POST adds an app role assignment, DELETE removes one: {principal, resource, role}."""
    principal, resource, role = _fields(await _json(request), "principal", "resource", "role")
    if request.method == "POST":
        changed = state.directory.assign(principal, resource, role)
    else:
        changed = state.directory.unassign(principal, resource, role)
    return {"principal": principal, "resource": resource, "role": role, "changed": changed}


@admin_endpoint
async def grants(request: Request, state: State) -> dict:
    """Admin consent: {clientAppId, resource, scopes}."""
    body = await _json(request)
    client, resource = _fields(body, "clientAppId", "resource")
    state.directory.grant(client, resource, list(body.get("scopes") or []))
    return {"granted": True}


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
    return {"token": state.issuer.sign(claims)}


def _table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


async def home(request: Request) -> HTMLResponse:
    state: State = request.app.state.emulator
    summary = state.directory.summary()
    origin, tid = state.config.origin, state.directory.tenant_id
    sections = [
        "<h2>Endpoints</h2>" + _table(["what", "where"], [
            ["OpenID configuration (v2)", f"{origin}/{tid}/v2.0/.well-known/openid-configuration"],
            ["Token endpoint", f"{origin}/{tid}/oauth2/v2.0/token"],
            ["Managed identity", f"{origin}/msi/token"],
            ["Key Vault", f"{origin}/ ({state.directory.vault_name})"],
        ]),
        "<h2>Applications</h2>" + _table(
            ["name", "app id", "identifier URIs", "app roles", "scopes", "assignment required", "token version"],
            [[a["name"], a["appId"], " ".join(a["identifierUris"]), ", ".join(a["appRoles"]), ", ".join(a["scopes"]),
              a["appRoleAssignmentRequired"], a["tokenVersion"]] for a in summary["applications"]]),
        "<h2>Principals</h2>" + _table(
            ["name", "kind", "object id", "client id", "UPN"],
            [[p["name"], p["kind"], p["objectId"], p["clientId"] or "", p["upn"] or ""]
             for p in summary["principals"]]),
        "<h2>App role assignments</h2>" + _table(
            ["principal", "resource", "role"],
            [[a["principal"], a["resource"], a["role"]] for a in summary["appRoleAssignments"]]),
        "<h2>Recently issued tokens</h2><p>Claims only; the emulator does not keep tokens.</p>" + _table(
            ["kind", "aud", "client", "subject", "roles", "scp", "ver"],
            [[t["kind"], t["claims"].get("aud"), t["claims"].get("appid") or t["claims"].get("azp"),
              t["claims"].get("upn") or t["claims"].get("preferred_username") or t["claims"].get("oid"),
              " ".join(t["claims"].get("roles", [])), t["claims"].get("scp", ""), t["claims"].get("ver")]
             for t in state.activity.recent]),
    ]
    return HTMLResponse(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Local Entra ID emulator</title><style>"
        "body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse;margin-bottom:1rem}"
        "td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;font-size:.9rem}</style></head><body>"
        f"<h1>Local Entra ID emulator</h1><p>Tenant <code>{html.escape(tid)}</code></p>{''.join(sections)}"
        "</body></html>")
