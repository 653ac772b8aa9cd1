"""The caller app's debug routes in the OpenAPI document (openapi_document.py assembles and serves it)."""

from __future__ import annotations

from web import Json, json_content, problems

DEBUG = (
    "Debug only: 404 unless DEBUG_ENDPOINTS=true (the local stack sets it; absent means off). "
    "No token: the route acts with the app's own managed identity, which is why it is never public."
)
ERRORS = problems.problem_responses(403, 404, 502, 503)


def _get(operation_id: str, summary: str, schema: Json) -> Json:
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "description": DEBUG,
            "security": [],
            "responses": {"200": {"description": summary, "content": json_content(schema)}, **ERRORS},
        }
    }


PART = {
    "paths": {
        "/caller/notifications": {
            **_get(
                "caller_list",
                "Pending notifications, read with the app's identity",
                {
                    "type": "object",
                    "required": ["items"],
                    "properties": {"items": {"type": "array", "items": {"type": "object"}}},
                },
            ),
            "post": {
                "operationId": "caller_create",
                "summary": "Create a notification with the app's identity",
                "description": DEBUG,
                "security": [],
                "parameters": [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}],
                "requestBody": {"required": True, "content": json_content({"type": "object"})},
                "responses": {
                    "201": {
                        "description": "Created.",
                        "content": json_content({"type": "object"}),
                    },
                    **problems.problem_responses(400, 403, 404, 409, 413, 415, 422, 502, 503),
                },
            },
        },
        "/caller/token": _get(
            "caller_token",
            "The claims of the token the app holds for the API (never the token)",
            {"type": "object", "required": ["scope"], "properties": {"scope": {"type": "string"}}},
        ),
        "/caller/secret": _get(
            "caller_secret",
            "The Key Vault secret's name and version (never its value)",
            {
                "type": "object",
                "required": ["name", "version"],
                "properties": {"name": {"type": "string"}, "version": {"type": ["string", "null"]}},
            },
        ),
    }
}
