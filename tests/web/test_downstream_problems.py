"""One mapping from a downstream API's answer to what our own client hears (problems.from_downstream)."""

from __future__ import annotations

import json

import pytest

from web import problems


def body(response: object) -> dict[str, object]:
    return json.loads(response.get_body())  # type: ignore[attr-defined]


@pytest.mark.parametrize("status", sorted(problems.RELAYED_STATUSES))
def test_the_clients_own_mistakes_are_relayed_with_the_apis_words(status: int) -> None:
    response = problems.from_downstream(status, {"detail": "said the API", "errors": ["e"]}, service="notification API")
    assert response.status_code == status
    assert body(response)["detail"] == "said the API"
    assert body(response)["errors"] == ["e"]


def test_a_403_names_what_is_missing() -> None:
    response = problems.from_downstream(403, {"detail": "no", "missing": ["app role x"]}, service="notification API")
    assert response.status_code == 403
    assert body(response)["missing"] == ["app role x"]


def test_a_401_after_the_retry_is_our_configuration_so_502() -> None:
    response = problems.from_downstream(401, {"detail": "wrong audience"}, service="notification API")
    assert response.status_code == 502
    assert "NOTIFICATION_API_SCOPE" in str(body(response)["detail"])


@pytest.mark.parametrize("status", [None, 500, 502, 503, 504, 429])
def test_outages_are_503_with_retry_after(status: int | None) -> None:
    response = problems.from_downstream(status, {}, service="notification API")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"


def test_a_body_that_is_not_a_problem_still_maps() -> None:
    response = problems.from_downstream(404, {"detail": 42}, service="notification API")
    assert response.status_code == 404
    assert body(response)["detail"] == "The notification API refused the request."
