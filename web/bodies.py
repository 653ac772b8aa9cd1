"""Request bodies: the one JSON reader the three apps share, so every hostile body is a 4xx.

Order matters: the size limit first (nothing large is parsed), then the nesting depth (Python's
``json`` recurses once per level, so ``[[[[...`` deep enough raises ``RecursionError``, a 500 in
``req.get_json()``), then the parse. Every failure is a ``Problem``: 413 too large, 415 not JSON,
400 anything else.
"""

from __future__ import annotations

import json
import re
from typing import Any

import azure.functions as func

from .problems import Problem

MAX_BODY_BYTES = 64 * 1024
MAX_DEPTH = 16  # our bodies are flat objects; deeper than this is never a notification

# A JSON string literal (escapes included): removed before counting brackets, so "[" inside a
# value does not count. Linear: the two alternatives never match the same character.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def _depth(raw: bytes) -> int:
    """How deeply arrays and objects nest, counted without parsing (hand-written: the standard
    parser offers no depth limit, and the point is to refuse before it recurses)."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub(b"", raw)):
        depth += 1 if bracket in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not JSON")  # Python's json accepts NaN and Infinity; JSON does not


def json_body(req: func.HttpRequest, *, max_bytes: int = MAX_BODY_BYTES) -> object:
    """The parsed JSON body (any JSON value: callers check the shape), or a ``Problem`` (400, 413 or 415) saying why."""
    content_type = (req.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
    if content_type != "application/json":
        raise Problem(415, "Send the body as application/json.")
    raw = req.get_body() or b""
    if len(raw) > max_bytes:
        raise Problem(413, f"The body is {len(raw)} bytes; the limit is {max_bytes}.")
    if _depth(raw) > MAX_DEPTH:
        raise Problem(400, f"The body nests deeper than {MAX_DEPTH} levels.")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except UnicodeDecodeError:
        raise Problem(400, "The body is not UTF-8.") from None
    except (ValueError, RecursionError) as exc:  # ValueError: JSONDecodeError, and ints over 4300 digits
        raise Problem(400, f"The body is not valid JSON: {str(exc)[:120]}.") from None


def json_object(req: func.HttpRequest, *, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """As ``json_body``, and the value must be an object."""
    value = json_body(req, max_bytes=max_bytes)
    if not isinstance(value, dict):
        raise Problem(400, "The body must be a JSON object.")
    return value
