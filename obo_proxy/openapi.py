"""The proxy's routes in the OpenAPI document (openapi_document.py assembles and serves it)."""

from __future__ import annotations

from collections.abc import Callable

from auth import AuthSettings
from web import Json, json_content, problems

LIST_PARAMETERS = [
    {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["pending", "acknowledged"]}},
    {"name": "top", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}},
    {"name": "pageToken", "in": "query", "schema": {"type": "string"}},
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
    "description": "Passed on to the API (one is made when absent, and reused for the proxy's own retries).",
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
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
            }
        },
    }
