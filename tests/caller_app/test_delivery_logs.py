"""The delivery timer's log never carries a problem's detail: a detail may quote Entra's text, which
names users (AADSTS50105 quotes the UPN), and user names stay out of logs."""

from __future__ import annotations

import logging

import pytest
import requests
from pytest_httpserver import HTTPServer

from caller_app.delivery import deliver_pending
from web import Problem

UPN = "alice@contoso.onmicrosoft.com"


class RefusingApi:
    """One pending notification; acknowledging it is refused with a detail that names a user."""

    def pending(self) -> list[dict[str, str]]:
        return [{"id": "n-1", "title": "hello"}]

    def acknowledge(self, notification_id: str) -> dict[str, str]:
        raise Problem(403, f"AADSTS50105: The signed in user '{UPN}' is not assigned to a role", reason="AADSTS50105")


class Secret:
    def get(self) -> str:
        return "signing-key"


def test_a_refused_acknowledgement_is_logged_without_its_detail(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    with caplog.at_level(logging.INFO, logger="caller_app"):
        report = deliver_pending(RefusingApi(), Secret(), httpserver.url_for("/hook"), requests.Session())  # type: ignore[arg-type]
    assert report.failed == ["n-1"]  # delivered, not acknowledged: it stays pending
    assert "AADSTS50105" in caplog.text
    assert UPN not in caplog.text
