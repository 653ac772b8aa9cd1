"""The bearer client against a local stub API: the token it sends, its one 401 retry, the
Idempotency-Key every POST carries, and DownstreamError for what the API refused."""

from __future__ import annotations

import json

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from outbound import BearerClient, DownstreamError


class Tokens:
    """A token provider that counts: "cached" until asked for a fresh one."""

    def __init__(self) -> None:
        self.fresh_calls = 0

    def __call__(self, fresh: bool) -> str:
        if fresh:
            self.fresh_calls += 1
            return f"fresh-{self.fresh_calls}"
        return "cached"


def answers(server: HTTPServer, *responses: Response) -> list[Request]:
    """Serve ``responses`` in order on every path; the requests that arrived are returned, live."""
    seen: list[Request] = []
    queue = list(responses)

    def handler(request: Request) -> Response:
        seen.append(request)
        return queue.pop(0)

    server.expect_request("/notifications", method="POST").respond_with_handler(handler)
    server.expect_request("/notifications", method="GET").respond_with_handler(handler)
    return seen


def problem(status: int, **body: object) -> Response:
    return Response(json.dumps({"status": status, **body}), status=status, content_type="application/problem+json")


def test_the_token_goes_in_the_authorization_header(httpserver: HTTPServer) -> None:
    seen = answers(httpserver, Response('{"items": []}', content_type="application/json"))
    assert BearerClient(httpserver.url_for(""), Tokens(), service="test API").json("GET", "/notifications") == {
        "items": []
    }
    assert seen[0].headers["Authorization"] == "Bearer cached"


def test_a_401_is_retried_once_with_a_fresh_token_then_refused(httpserver: HTTPServer) -> None:
    tokens = Tokens()
    seen = answers(httpserver, problem(401, detail="expired"), problem(401, detail="still no"))
    with pytest.raises(DownstreamError) as refused:
        BearerClient(httpserver.url_for(""), tokens, service="test API").json("GET", "/notifications")
    assert refused.value.downstream_status == 401
    assert [r.headers["Authorization"] for r in seen] == ["Bearer cached", "Bearer fresh-1"]
    assert tokens.fresh_calls == 1


def test_every_post_carries_one_idempotency_key_across_its_retries(httpserver: HTTPServer) -> None:
    seen = answers(httpserver, problem(401), Response('{"id": "1"}', status=201, content_type="application/json"))
    BearerClient(httpserver.url_for(""), Tokens(), service="test API").json(
        "POST", "/notifications", json={"title": "t"}
    )
    keys = [r.headers.get("Idempotency-Key") for r in seen]
    assert len(keys) == 2
    assert keys[0]
    assert keys[0] == keys[1]


def test_the_callers_own_idempotency_key_is_kept(httpserver: HTTPServer) -> None:
    seen = answers(httpserver, Response('{"id": "1"}', status=201, content_type="application/json"))
    client = BearerClient(httpserver.url_for(""), Tokens(), service="test API")
    client.json("POST", "/notifications", json={}, headers={"Idempotency-Key": "mine"})
    assert seen[0].headers["Idempotency-Key"] == "mine"


def test_an_error_answer_is_a_downstream_error_with_the_apis_problem(httpserver: HTTPServer) -> None:
    answers(httpserver, problem(422, detail="title is required", errors=[{"field": "title"}]))
    with pytest.raises(DownstreamError) as refused:
        BearerClient(httpserver.url_for(""), Tokens(), service="test API").json("POST", "/notifications", json={})
    assert refused.value.downstream_status == 422
    assert refused.value.downstream_problem["errors"] == [{"field": "title"}]


def test_no_answer_is_a_downstream_error_without_status() -> None:
    with pytest.raises(DownstreamError) as refused:
        BearerClient("http://127.0.0.1:9", Tokens(), service="test API").json("GET", "/notifications")
    assert refused.value.downstream_status is None


def test_a_2xx_that_is_not_json_is_a_downstream_error_not_a_crash(httpserver: HTTPServer) -> None:
    """Regression: ``response.json()`` raised ValueError, which reached the host as a 500."""
    answers(httpserver, Response("<html>maintenance</html>", content_type="text/html"))
    with pytest.raises(DownstreamError) as broken:
        BearerClient(httpserver.url_for(""), Tokens(), service="test API").json("GET", "/notifications")
    assert broken.value.status == 503  # the API is broken, not the caller: retry later
