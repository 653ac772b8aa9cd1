"""The portal against a stub Resource Manager: whatever ARM (or a proxy in front of it) answers
with a 2xx, the user gets a problem, never a 500."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from obo_proxy.portal import ArmRefusal, Portal
from outbound import BearerClient

SUBSCRIPTION = "00000000-0000-0000-0000-0000000000aa"
SITES = f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Web/sites"


def portal(server: HTTPServer) -> Portal:
    arm = BearerClient(server.url_for("").rstrip("/"), lambda fresh: "user-token", service="Azure Resource Manager")
    return Portal(arm, SUBSCRIPTION)


def test_a_2xx_that_is_not_json_is_a_problem(httpserver: HTTPServer) -> None:
    httpserver.expect_request(SITES).respond_with_response(Response("<html>gateway</html>", content_type="text/html"))
    with pytest.raises(ArmRefusal) as refused:
        portal(httpserver).sites()
    assert refused.value.status == 503  # ARM is broken, not the user: retry later


def test_a_next_page_that_is_not_an_object_is_a_problem(httpserver: HTTPServer) -> None:
    next_link = httpserver.url_for("/page2").rstrip("/")
    httpserver.expect_request(SITES).respond_with_json({"value": [], "nextLink": next_link})
    httpserver.expect_request("/page2").respond_with_json(["not", "an", "object"])
    with pytest.raises(ArmRefusal) as refused:
        portal(httpserver).sites()
    assert refused.value.status == 503  # ARM is broken, not the user: retry later
