"""This API's routes in the OpenAPI document (openapi_document.py assembles and serves it)."""

from __future__ import annotations

from collections.abc import Callable

from auth import AuthSettings
from web import Json, json_content, problems

from .payloads import (
    DEFAULT_TOP,
    IDEMPOTENCY_KEY_PATTERN,
    LIMITS,
    MAX_TOP,
    OBJECT_ID_PATTERN,
    RECIPIENT_RULE,
    STATUSES,
)
from .store import ID_PATTERN

ID = {"type": "string", "pattern": ID_PATTERN, "description": "Creation time in ms, then 12 hex."}
NOTIFICATION = {
    "type": "object",
    "required": ["id", "recipient", "title", "body", "status", "createdAt", "createdBy"],
    "properties": {
        "id": ID,
        "recipient": {"type": "string", "description": "The recipient's object id, in the caller's tenant."},
        "title": {"type": "string"},
        "body": {"type": "string"},
        "status": {"type": "string", "enum": list(STATUSES)},
        "createdAt": {"type": "string", "format": "date-time"},
        "createdBy": {"type": "string", "description": "Object id of the app or user that created it."},
        "acknowledgedAt": {"type": "string", "format": "date-time"},
        "acknowledgedBy": {"type": "string"},
    },
}
EXAMPLE_RECIPIENT = "6f1c2b9e-0d4a-4c3b-9e8f-2a1b3c4d5e6f"  # nobody the tests or the demo sign in as
NEW_NOTIFICATION = {
    "type": "object",
    "description": "Unknown fields are refused; strings are trimmed and must not be blank.",
    "required": list(LIMITS),
    "additionalProperties": False,
    "properties": {
        **{name: {"type": "string", "minLength": 1, "maxLength": limit} for name, limit in LIMITS.items()},
        "recipient": {
            "type": "string",
            "pattern": OBJECT_ID_PATTERN,
            "description": RECIPIENT_RULE[0].upper() + RECIPIENT_RULE[1:] + ".",
        },
    },
    "examples": [{"recipient": EXAMPLE_RECIPIENT, "title": "Build 1432 failed", "body": "See the log."}],
}
PAGE = {
    "type": "object",
    "required": ["items", "nextPageToken"],
    "properties": {
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Notification"}},
        "nextPageToken": {
            "type": ["string", "null"],
            "description": "Pass as `pageToken` for the next page; null on the last page.",
        },
    },
}
LIST_PARAMETERS = [
    {"name": "status", "in": "query", "schema": {"type": "string", "enum": list(STATUSES)}, "example": "pending"},
    {
        "name": "top",
        "in": "query",
        "description": "Page size: ASCII digits only.",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_TOP, "default": DEFAULT_TOP},
        "example": 10,
    },
    {
        "name": "pageToken",
        "in": "query",
        "description": "Opaque: the `nextPageToken` of the previous page, unchanged.",
        "schema": {"type": "string"},
    },
]
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "description": "Retries with the same key (per caller) and the same body return the first answer with "
    "`Idempotent-Replayed: true` and create nothing; the same key with another body is a 422. Keys are kept "
    "with the notification, so a retry after any failure is safe.",
    "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
}
NOTIFICATION_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "Any other shape is a 404, as is an id the caller may not see.",
    "schema": {"type": "string"},
    "example": "1764380000000a1b2c3d4e5f6",
}


def _ok(description: str, schema: str, status: str = "200", headers: Json | None = None) -> Json:
    response = {
        "description": description,
        "content": json_content({"$ref": f"#/components/schemas/{schema}"}),
    }
    if headers:
        response["headers"] = headers
    return {status: response}


def part(read_scope: str, create_scope: str, auth: Callable[[], AuthSettings]) -> Json:
    """The API's paths, schemas and security scheme; scope values come from the route guards, the
    tenant and audiences from ``auth()`` (the app's settings, read when the document is served)."""
    read = [{"notificationApi": [read_scope]}, {"notificationApi": [".default"]}]
    create = [{"notificationApi": [create_scope]}, {"notificationApi": [".default"]}]
    who_reads = (
        f"App role `notification.read` (an app sees every notification), or scope `{read_scope}` with the "
        "user's own `notification.read` role (a user sees the notifications addressed to them)."
    )
    return {
        "security": {
            "notificationApi": {
                "auth": auth,
                "scopes": {
                    read_scope: "Read your notifications (you also need the notification.read app role).",
                    create_scope: "Create notifications (you also need the notification.create app role).",
                },
                "roles": {
                    "notification.read": "read and acknowledge every notification",
                    "notification.create": "create notifications",
                },
            }
        },
        "schemas": {"Notification": NOTIFICATION, "NewNotification": NEW_NOTIFICATION, "NotificationPage": PAGE},
        "paths": {
            "/health": {
                "get": {
                    "operationId": "health",
                    "summary": "Liveness",
                    "description": "Anonymous on purpose; says nothing but ok.",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The host runs.",
                            "content": json_content(
                                {"type": "object", "properties": {"status": {"const": "ok"}}, "required": ["status"]}
                            ),
                        }
                    },
                }
            },
            "/notifications": {
                "get": {
                    "operationId": "list_notifications",
                    "summary": "One page of notifications, oldest first",
                    "description": who_reads,
                    "security": read,
                    "parameters": LIST_PARAMETERS,
                    "responses": {
                        **_ok("A page.", "NotificationPage"),
                        **problems.problem_responses(400, 401, 403, 503),
                    },
                },
                "post": {
                    "operationId": "create_notification",
                    "summary": "Create a notification",
                    "description": f"App role `notification.create`, or scope `{create_scope}` with the user's "
                    "own `notification.create` role.",
                    "security": create,
                    "parameters": [IDEMPOTENCY_KEY],
                    "requestBody": {
                        "required": True,
                        "content": json_content({"$ref": "#/components/schemas/NewNotification"}),
                    },
                    "responses": {
                        **_ok(
                            "Created (or replayed: see Idempotency-Key).",
                            "Notification",
                            "201",
                            {
                                "Location": {"schema": {"type": "string"}},
                                "Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]}},
                            },
                        ),
                        **problems.problem_responses(400, 401, 403, 413, 415, 422, 503),
                    },
                },
            },
            "/notifications/{id}": {
                "get": {
                    "operationId": "get_notification",
                    "summary": "One notification",
                    "description": who_reads + " One the caller may not see is a 404.",
                    "security": read,
                    "parameters": [NOTIFICATION_ID],
                    "responses": {
                        **_ok("The notification.", "Notification"),
                        **problems.problem_responses(401, 403, 404, 503),
                    },
                },
            },
            "/notifications/{id}/ack": {
                "post": {
                    "operationId": "acknowledge_notification",
                    "summary": "Acknowledge a notification",
                    "description": who_reads + " Conditional on the stored ETag: of racing acknowledgements "
                    "exactly one changes the state (`X-Acknowledged-Now: true`); the others get the "
                    "acknowledged notification with `false`. Safe to retry.",
                    "security": read,
                    "parameters": [NOTIFICATION_ID],
                    "responses": {
                        **_ok(
                            "Acknowledged (now or before).",
                            "Notification",
                            headers={"X-Acknowledged-Now": {"schema": {"type": "string", "enum": ["true", "false"]}}},
                        ),
                        **problems.problem_responses(401, 403, 404, 503),
                    },
                },
            },
        },
    }
