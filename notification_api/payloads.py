"""What a client may send, checked before anything is stored. Errors name each field (RFC 9457 "errors")."""

from __future__ import annotations

import re

import azure.functions as func

from web import Problem, bodies

from .store import ID_PATTERN, NewNotification

LIMITS = {"recipient": 36, "title": 200, "body": 4000}  # recipient: an object id (a GUID, 36 characters)
MAX_TOP, DEFAULT_TOP = 100, 50
STATUSES = ("pending", "acknowledged")
# Patterns as the OpenAPI document writes them (anchored); the checks here fullmatch the same text
# ("$" alone would let a trailing newline through).
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # visible ASCII, as the IETF draft suggests
# An object id as Graph writes it, in either letter case: GUIDs are case-insensitive, and only ASCII
# hex is accepted (no Unicode digit or letter that some case folding would turn into one).
OBJECT_ID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def _fullmatch(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern.removeprefix("^").removesuffix("$"))


_IDEMPOTENCY_KEY, _ID, _OBJECT_ID = map(_fullmatch, (IDEMPOTENCY_KEY_PATTERN, ID_PATTERN, OBJECT_ID_PATTERN))
_TOP = re.compile(r"[0-9]{1,3}")
RECIPIENT_RULE = (
    "the recipient's object id (a GUID) in your tenant; names (UPN, e-mail) are not accepted, "
    "because they can be changed and given to someone else"
)


def new_notification(req: func.HttpRequest) -> NewNotification:
    """The checked notification, or a ``Problem``: 400 naming each bad field (``errors``), or the body's own 4xx."""
    data = bodies.json_object(req)
    errors = [{"pointer": f"#/{name}", "detail": "unknown field"} for name in data if name not in LIMITS]
    for name, limit in LIMITS.items():
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            errors.append({"pointer": f"#/{name}", "detail": "required, a non-empty string"})
        elif not _is_unicode(value):
            errors.append({"pointer": f"#/{name}", "detail": "not valid Unicode (a lone surrogate escape)"})
        elif name == "recipient" and not _OBJECT_ID.fullmatch(value):
            errors.append({"pointer": "#/recipient", "detail": RECIPIENT_RULE})
        elif len(value) > limit:
            errors.append({"pointer": f"#/{name}", "detail": f"at most {limit} characters"})
    if errors:
        raise Problem(400, "The notification is not valid.", errors=errors)
    # One spelling per object id: the mailbox key compares exactly.
    return NewNotification(data["recipient"].lower(), data["title"].strip(), data["body"])


def _is_unicode(value: str) -> bool:
    """JSON's \\ud800 escapes decode to lone surrogates, which storage cannot encode."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def idempotency_key(req: func.HttpRequest) -> str | None:
    key: str | None = req.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise Problem(400, "Idempotency-Key must be 1-255 visible ASCII characters.")
    return key


def list_query(req: func.HttpRequest) -> tuple[str | None, int, str | None]:
    status = req.params.get("status")
    if status is not None and status not in STATUSES:
        raise Problem(400, f"status must be one of {', '.join(STATUSES)}.")
    top = req.params.get("top", str(DEFAULT_TOP))
    # ASCII digits only: str.isdigit() also accepts "²" and "①", which int() refuses.
    if not _TOP.fullmatch(top) or not 1 <= int(top) <= MAX_TOP:
        raise Problem(400, f"top must be a whole number from 1 to {MAX_TOP}.")
    return status, int(top), req.params.get("pageToken") or None


def notification_id(req: func.HttpRequest) -> str | None:
    """The id from the route, or None when it cannot be one of ours (then: 404, as for a missing one)."""
    value = req.route_params.get("id", "")
    return value if _ID.fullmatch(value) else None
