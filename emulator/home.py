"""The home page: the token inspector, then the tenant (apps, principals, assignments) and the
claims of recently issued tokens. Server-rendered HTML, escaped everywhere; no script."""

from __future__ import annotations

import html
import json

from starlette.requests import Request
from starlette.responses import HTMLResponse

from .inspector import inspect_token, permissions
from .state import State

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;max-width:80rem}table{border-collapse:collapse;"
    "margin-bottom:1rem}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;font-size:.9rem;"
    "vertical-align:top}textarea{width:100%;height:7rem;font-family:monospace}.allowed{color:#107c10}"
    ".refused{color:#a4262c}code{word-break:break-all}"
)


def _table(headers: list[str], rows: list[list], table_id: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    attribute = f' id="{table_id}"' if table_id else ""
    return f"<table{attribute}><tr>{head}</tr>{body}</table>"


def _inspector(state: State, token: str, chosen: str, tenants: str) -> str:
    options = "".join(
        f'<option value="{html.escape(p.key)}"{" selected" if p.key == chosen else ""}>{html.escape(p.label)}</option>'
        for p in permissions(state)
    )
    form = (
        '<h2>Token inspector</h2><form method="post" action="/">'
        '<p><label for="token">Paste an access token</label></p>'
        f'<textarea id="token" name="token" spellcheck="false">{html.escape(token)}</textarea>'
        '<p><label for="permission">Would it pass a route that requires</label> '
        f'<select id="permission" name="permission">{options}</select></p>'
        '<p><label for="tenants">in an API that serves the tenants</label> '
        f'<input id="tenants" name="tenants" size="80" value="{html.escape(tenants)}" '
        'placeholder="tenant ids, comma-separated (empty: the app&#39;s local allow-list)"> '
        '<button id="inspect" type="submit">Inspect</button></p></form>'
    )
    if not token:
        return form
    found = inspect_token(state, token, chosen, tenants or None)
    css = "allowed" if found.verdict == "allowed" else "refused"
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in found.reasons)
    claims = [[k, json.dumps(v) if not isinstance(v, str) else v] for k, v in found.claims.items()]
    return (
        form
        + f'<h3 id="verdict" class="{css}">{html.escape(found.verdict)}</h3><ul id="reasons">{reasons}</ul>'
        + _table(["check", "result"], [["signature", found.signature], ["expiry", found.expiry]], "checks")
        + "<h3>Header</h3>"
        + _table(["field", "value"], [[k, v] for k, v in found.header.items()], "header")
        + "<h3>Claims</h3>"
        + _table(["claim", "value"], claims, "claims")
    )


async def home(request: Request) -> HTMLResponse:
    state: State = request.app.state.emulator
    token, chosen, tenants = "", "", ""
    if request.method == "POST":
        form = await request.form()
        token, chosen = str(form.get("token", "")), str(form.get("permission", ""))
        tenants = str(form.get("tenants", ""))
    summary = state.directory.summary()
    origin, tid = state.config.origin, state.directory.tenant_id
    sections = [
        _inspector(state, token, chosen, tenants),
        "<h2>Endpoints</h2>"
        + _table(
            ["what", "where"],
            [
                ["OpenID configuration (v2)", f"{origin}/{tid}/v2.0/.well-known/openid-configuration"],
                ["Token endpoint", f"{origin}/{tid}/oauth2/v2.0/token"],
                ["Managed identity", f"{origin}/msi/token"],
                ["Key Vault", f"{origin}/ ({state.directory.vault_name})"],
            ],
        ),
        "<h2>Applications</h2>"
        + _table(
            ["name", "app id", "identifier URIs", "app roles", "scopes", "assignment required", "token version"],
            [
                [
                    a["name"],
                    a["appId"],
                    " ".join(a["identifierUris"]),
                    ", ".join(a["appRoles"]),
                    ", ".join(a["scopes"]),
                    a["appRoleAssignmentRequired"],
                    a["tokenVersion"],
                ]
                for a in summary["applications"]
            ],
            "applications",
        ),
        "<h2>Tenants</h2><p>Each at its id and its domain; its admins grant the roles in it.</p>"
        + _table(
            ["name", "id", "domain", "Global Administrators", "enterprise applications", "app role assignments"],
            [
                [
                    t["name"] + (" (home)" if t["home"] else ""),
                    t["id"],
                    t["domain"],
                    ", ".join(t["globalAdministrators"]),
                    ", ".join(sp["application"] for sp in t["servicePrincipals"]) or "none: not consented",
                    "; ".join(f"{a['principal']} {a['role']}" for a in t["appRoleAssignments"]),
                ]
                for t in summary["tenants"]
            ],
            "directory-tenants",
        ),
        "<h2>Principals (home tenant)</h2>"
        + _table(
            ["name", "kind", "object id", "client id", "UPN"],
            [[p["name"], p["kind"], p["objectId"], p["clientId"] or "", p["upn"] or ""] for p in summary["principals"]],
            "principals",
        ),
        "<h2>App role assignments</h2>"
        + _table(
            ["principal", "resource", "role"],
            [[a["principal"], a["resource"], a["role"]] for a in summary["appRoleAssignments"]],
            "assignments",
        ),
        "<h2>Recently issued tokens</h2><p>Claims only; the emulator does not keep tokens.</p>"
        + _table(
            ["kind", "aud", "client", "subject", "roles", "scp", "ver"],
            [
                [
                    t["kind"],
                    t["claims"].get("aud"),
                    t["claims"].get("appid") or t["claims"].get("azp"),
                    t["claims"].get("upn") or t["claims"].get("preferred_username") or t["claims"].get("oid"),
                    " ".join(t["claims"].get("roles", [])),
                    t["claims"].get("scp", ""),
                    t["claims"].get("ver"),
                ]
                for t in state.activity.recent
            ],
            "recent",
        ),
    ]
    return HTMLResponse(
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Local Entra ID emulator</title>"
        f"<style>{_STYLE}</style></head><body><h1>Local Entra ID emulator</h1><p>Tenant "
        f"<code>{html.escape(tid)}</code></p>{''.join(sections)}</body></html>"
    )
