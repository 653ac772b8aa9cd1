"""Answers that succeed: a JSON body with its media type, and how the OpenAPI document describes one."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func

Json = dict[str, Any]  # a JSON object: a response body, a part of the OpenAPI document


def json_response(value: object, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(value), status_code=status, headers=headers or {}, mimetype="application/json")


def json_content(schema: Json) -> Json:
    """An OpenAPI ``content`` map for a JSON body of ``schema``."""
    return {"application/json": {"schema": schema}}
