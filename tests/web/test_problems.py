"""The one decorator: a Problem raised anywhere below a handler becomes its RFC 9457 answer, sync or
async; any other exception stays a bug (the host's 500), never a made-up problem."""

from __future__ import annotations

import asyncio
import json

import azure.functions as func
import pytest

from web import Problem, answers_problems


def request() -> func.HttpRequest:
    return func.HttpRequest("GET", "http://localhost/api/x?secret=1", body=b"")


def refuse(req: func.HttpRequest) -> func.HttpResponse:
    raise Problem(409, "taken", title="Conflict here", headers={"X-Why": "1"}, reason="internal", taken=["a"])


def test_a_problem_is_answered_with_its_status_headers_and_body(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="web.problems")
    response = answers_problems(refuse)(request())
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    assert response.headers["X-Why"] == "1"
    body = json.loads(response.get_body())
    assert body == {"type": "about:blank", "title": "Conflict here", "status": 409, "detail": "taken", "taken": ["a"]}
    assert "internal" in caplog.text  # the reason goes to the log, not to the client
    assert "secret" not in caplog.text  # nor does the query string go to the log


def test_an_async_handler_is_answered_the_same_way() -> None:
    async def refuse_async(req: func.HttpRequest) -> func.HttpResponse:
        return refuse(req)

    async def call() -> func.HttpResponse:
        return await answers_problems(refuse_async)(request())

    assert asyncio.run(call()).status_code == 409


def test_any_other_exception_is_left_alone() -> None:
    def broken(req: func.HttpRequest) -> func.HttpResponse:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        answers_problems(broken)(request())
