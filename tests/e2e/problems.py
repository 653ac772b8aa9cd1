"""The one check of a problem answer over HTTP, shared by the end-to-end tests."""

from __future__ import annotations

import requests


def problem(response: requests.Response, status: int) -> dict:
    """The RFC 9457 body of ``response``, once it is one: ``status``, ``application/problem+json``, and
    the members every problem carries (``status`` the same as the response's)."""
    assert response.status_code == status, f"{response.status_code} {response.text[:300]}"
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= set(body), body
    return body
