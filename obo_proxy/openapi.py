"""The proxy's routes in the OpenAPI document (openapi_document.py assembles and serves it)."""

from __future__ import annotations

from collections.abc import Callable

from auth import AuthSettings
from web import Json, json_content, problems

# The query and the Idempotency-Key go to the API unchanged, and the API checks them (its own
# GET /notifications says how): the proxy restates none of its rules, so they cannot drift apart.
PASSED_ON = "Passed on to the API unchanged; the API checks it (see the API's GET /notifications)."
LIST_PARAMETERS = [
    {"name": "status", "in": "query", "description": PASSED_ON, "schema": {"type": "string"}},
    {"name": "top", "in": "query", "description": PASSED_ON, "schema": {"type": "string"}},
    {"name": "pageToken", "in": "query", "description": PASSED_ON, "schema": {"type": "string"}},
]
OBJECT = {"type": "object"}
NEW = {
    "type": "object",
    "description": "Checked by the API (its NewNotification: lengths, no other fields).",
    "required": ["recipient", "title", "body"],
    "properties": {name: {"type": "string", "minLength": 1} for name in ("recipient", "title", "body")},
    "examples": [
        {"recipient": "6f1c2b9e-0d4a-4c3b-9e8f-2a1b3c4d5e6f", "title": "Deploy approved", "body": "Go ahead."}
    ],
}
PAGE = {"type": "object", "required": ["items"], "properties": {"items": {"type": "array"}}}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "description": "Passed on to the API, which checks it (one is made when absent, and reused for the proxy's "
    "own retries).",
    "schema": {"type": "string"},
}


def part(scope: str, auth: Callable[[], AuthSettings]) -> Json:
    """The proxy's paths and security scheme. Bodies are the API's (see its NewNotification, Notification and
    NotificationPage): the proxy passes them on unchanged, so it describes them only loosely here."""
    security = [{"oboProxy": [scope]}]
    how = (
        f"A user's token for the proxy with scope `{scope}` (app-only tokens are refused: there is nobody to act "
        "for). The proxy exchanges it on behalf of the user, and the API decides with the user's own roles; "
        "its 400, 403, 404, 413, 415 and 422 answers pass through. A 403 for missing consent carries "
        "`consentUri` and a `WWW-Authenticate` challenge naming the scope to ask for."
    )
    return {
        "security": {"oboProxy": {"auth": auth, "scopes": {scope: "Call the API as yourself."}}},
        "paths": {
            "/obo/notifications": {
                "get": {
                    "operationId": "obo_list",
                    "summary": "Your notifications, fetched as you",
                    "description": how,
                    "security": security,
                    "parameters": LIST_PARAMETERS,
                    "responses": {
                        "200": {
                            "description": "A page.",
                            "content": json_content(PAGE),
                        },
                        **problems.problem_responses(400, 401, 403, 502, 503),
                    },
                },
                "post": {
                    "operationId": "obo_create",
                    "summary": "Create a notification as you",
                    "description": how + " Needs your notification.create role.",
                    "security": security,
                    "parameters": [IDEMPOTENCY_KEY],
                    "requestBody": {
                        "required": True,
                        "content": json_content(NEW),
                    },
                    "responses": {
                        "201": {
                            "description": "Created.",
                            "headers": {"Location": {"schema": {"type": "string"}}},
                            "content": json_content(OBJECT),
                        },
                        **problems.problem_responses(400, 401, 403, 413, 415, 422, 502, 503),
                    },
                },
            },
            **portal_paths(security),
        },
    }


SITE = {
    "type": "object",
    "required": ["id", "name", "resourceGroup", "state", "mayRestart"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "resourceGroup": {"type": "string"},
        "location": {"type": ["string", "null"]},
        "kind": {"type": ["string", "null"]},
        "state": {"type": ["string", "null"], "description": "Running or Stopped, as App Service says."},
        "defaultHostName": {"type": ["string", "null"]},
        "mayRestart": {
            "type": "boolean",
            "description": "Whether your Azure roles grant Microsoft.Web/sites/restart/action on this app.",
        },
    },
}
SITES = {
    "type": "object",
    "required": ["subscriptionId", "user", "sites"],
    "properties": {
        "subscriptionId": {"type": "string"},
        "user": {"type": "string"},
        "sites": {"type": "array", "items": SITE},
    },
}
RESTARTED = {
    "type": "object",
    "required": ["id", "resourceGroup", "name", "result", "by"],
    "properties": {name: {"type": "string"} for name in ("id", "resourceGroup", "name", "result", "by")},
}
ACTIVITY = {
    "type": "object",
    "required": ["items"],
    "properties": {
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "when": {"type": ["string", "null"]},
                    "who": {
                        "type": ["string", "null"],
                        "description": "The UPN Azure recorded: the user, never the proxy.",
                    },
                    "whoName": {"type": ["string", "null"]},
                    "action": {"type": "string", "examples": ["restart", "stop", "start"]},
                    "operation": {"type": "string"},
                    "site": {"type": "string"},
                    "resourceGroup": {"type": ["string", "null"]},
                    "result": {"type": ["string", "null"], "examples": ["Succeeded", "Failed"]},
                },
            },
        }
    },
}
PORTAL = (
    "The support portal acts only as you: the proxy exchanges your token on behalf of you for an Azure Resource "
    "Manager token (delegated permission Azure Service Management `user_impersonation`), and your Azure RBAC "
    "decides; the proxy's own identity holds no Azure role. A refusal is a 403 problem naming the `action`, the "
    "`scope` and the built-in `roles` that grant it; ARM's 404 stays a 404."
)


def portal_paths(security: list[Json]) -> dict[str, Json]:
    """The portal's three routes (docs/support-portal.md)."""
    name_parameters = [
        {"name": "resourceGroup", "in": "path", "required": True,
         "schema": {"type": "string", "pattern": "^[\\w.()-]{1,90}$"}},
        {"name": "name", "in": "path", "required": True,
         "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9-]{0,58}[A-Za-z0-9]$"}},
    ]  # fmt: skip
    return {
        "/portal/sites": {
            "get": {
                "operationId": "portal_sites",
                "summary": "The function apps you may read, and whether you may restart each",
                "description": PORTAL,
                "security": security,
                "responses": {
                    "200": {"description": "Your view of the subscription.", "content": json_content(SITES)},
                    **problems.problem_responses(401, 403, 502, 503),
                },
            }
        },
        "/portal/sites/{resourceGroup}/{name}/restart": {
            "post": {
                "operationId": "portal_restart",
                "summary": "Restart a function app as you",
                "description": PORTAL + " Needs Microsoft.Web/sites/restart/action (Website Contributor).",
                "security": security,
                "parameters": name_parameters,
                "responses": {
                    "200": {
                        "description": "Restarted; the activity log names you.",
                        "content": json_content(RESTARTED),
                    },
                    **problems.problem_responses(400, 401, 403, 404, 502, 503),
                },
            }
        },
        "/portal/activity": {
            "get": {
                "operationId": "portal_activity",
                "summary": "Recent restarts, stops and starts (7 days): who, what, when, the result",
                "description": PORTAL
                + " Needs Microsoft.Insights/eventtypes/values/read on the subscription (Reader).",
                "security": security,
                "responses": {
                    "200": {"description": "Newest first.", "content": json_content(ACTIVITY)},
                    **problems.problem_responses(401, 403, 502, 503),
                },
            }
        },
    }
