"""What a client may send, checked before anything is stored. Errors name each field (RFC 9457 "errors")."""

from __future__ import annotations

import json
import re

import azure.functions as func

from .store import NewNotification

MAX_BODY_BYTES = 64 * 1024
LIMITS = {"recipient": 320, "title": 200, "body": 4000}  # recipient: a UPN, object id or address
MAX_TOP, DEFAULT_TOP = 100, 50
STATUSES = ("pending", "acknowledged")
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, as the IETF draft suggests
_ID = re.compile(r"^[0-9]{13}[0-9a-f]{12}$")


class PayloadError(Exception):
    def __init__(self, status: int, detail: str, errors: list[dict] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.errors = status, detail, errors or []


def new_notification(req: func.HttpRequest) -> NewNotification:
    content_type = (req.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
    if content_type != "application/json":
        raise PayloadError(415, "Send the notification as application/json.")
    raw = req.get_body()
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadError(413, f"The body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}.")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(400, f"The body is not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise PayloadError(400, "The body must be a JSON object.")
    errors = [{"pointer": f"#/{name}", "detail": "unknown field"} for name in data if name not in LIMITS]
    for name, limit in LIMITS.items():
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            errors.append({"pointer": f"#/{name}", "detail": "required, a non-empty string"})
        elif len(value) > limit:
            errors.append({"pointer": f"#/{name}", "detail": f"at most {limit} characters"})
    if errors:
        raise PayloadError(400, "The notification is not valid.", errors)
    return NewNotification(data["recipient"].strip(), data["title"].strip(), data["body"])


def idempotency_key(req: func.HttpRequest) -> str | None:
    key = req.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY.match(key):
        raise PayloadError(400, "Idempotency-Key must be 1-255 visible ASCII characters.")
    return key


def list_query(req: func.HttpRequest) -> tuple[str | None, int, str | None]:
    status = req.params.get("status")
    if status is not None and status not in STATUSES:
        raise PayloadError(400, f"status must be one of {', '.join(STATUSES)}.")
    top = req.params.get("top", str(DEFAULT_TOP))
    if not top.isdigit() or not 1 <= int(top) <= MAX_TOP:
        raise PayloadError(400, f"top must be a whole number from 1 to {MAX_TOP}.")
    return status, int(top), req.params.get("pageToken") or None


def notification_id(req: func.HttpRequest) -> str | None:
    """The id from the route, or None when it cannot be one of ours (then: 404, as for a missing one)."""
    value = req.route_params.get("id", "")
    return value if _ID.match(value) else None
