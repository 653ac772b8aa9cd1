"""One mapping from a downstream API's answer to what our own client hears (DownstreamError, a Problem)."""

from __future__ import annotations

import json

import pytest

from outbound import DownstreamError
from outbound.http import RELAYED_STATUSES


def heard(status: int | None, body: dict[str, object]) -> tuple[int, dict[str, str], dict[str, object]]:
    """Status, headers and body of what our client gets, as the handlers' decorator sends it."""
    response = DownstreamError(status, body, service="notification API").response()
    return response.status_code, dict(response.headers), json.loads(response.get_body())


@pytest.mark.parametrize("status", sorted(RELAYED_STATUSES))
def test_the_clients_own_mistakes_are_relayed_with_the_apis_words(status: int) -> None:
    answered, _, body = heard(status, {"detail": "said the API", "errors": ["e"]})
    assert answered == status
    assert body["detail"] == "said the API"
    assert body["errors"] == ["e"]


def test_a_403_names_what_is_missing() -> None:
    answered, _, body = heard(403, {"detail": "no", "missing": ["app role x"]})
    assert answered == 403
    assert body["missing"] == ["app role x"]


def test_a_401_after_the_retry_is_our_configuration_so_502() -> None:
    answered, _, body = heard(401, {"detail": "wrong audience"})
    assert answered == 502
    assert "NOTIFICATION_API_SCOPE" in str(body["detail"])


@pytest.mark.parametrize("status", [None, 500, 502, 503, 504, 429])
def test_outages_are_503_with_retry_after(status: int | None) -> None:
    answered, headers, _ = heard(status, {})
    assert answered == 503
    assert headers["Retry-After"] == "5"


def test_a_body_that_is_not_a_problem_still_maps() -> None:
    answered, _, body = heard(404, {"detail": 42})
    assert answered == 404
    assert body["detail"] == "The notification API refused the request."
