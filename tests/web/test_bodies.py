"""The shared body reader: size first, then depth, then parse; every failure a 4xx problem."""

from __future__ import annotations

import json

import azure.functions as func
import pytest

from web import Problem, bodies


def request(body: bytes, content_type: str = "application/json") -> func.HttpRequest:
    return func.HttpRequest("POST", "http://localhost/api/x", headers={"Content-Type": content_type}, body=body)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    value = {"title": "[" * 500, "body": 'a "quoted [[[ {{ bracket'}
    assert bodies.json_object(request(json.dumps(value).encode())) == value


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"[" * 988, "application/json", 400),
        (b"[" * (bodies.MAX_DEPTH + 1) + b"]" * (bodies.MAX_DEPTH + 1), "application/json", 400),
        (b"x" * (bodies.MAX_BODY_BYTES + 1), "application/json", 413),  # the size decides before anything is parsed
        (b"{}", "text/plain", 415),
        (b"", "application/json", 400),
        (b"[1]", "application/json", 400),  # json_object: an object only
        (b'{"a": Infinity}', "application/json", 400),
    ],
)
def test_refusals(body: bytes, content_type: str, status: int) -> None:
    with pytest.raises(Problem) as refused:
        bodies.json_object(request(body, content_type))
    response = refused.value.response()
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"


def test_the_deepest_allowed_body_parses() -> None:
    deepest = "[" * (bodies.MAX_DEPTH - 1) + "]" * (bodies.MAX_DEPTH - 1)
    assert bodies.json_object(request(f'{{"a": {deepest}}}'.encode()))["a"] is not None
