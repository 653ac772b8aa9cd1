"""The notification API as the caller app sees it: a few calls over the authenticated client."""

from __future__ import annotations

import uuid

import requests
from azure.core.exceptions import AzureError

from auth.http import BearerClient


class DownstreamError(Exception):
    """The API answered with an error, or did not answer."""

    def __init__(self, status: int | None, problem: dict, headers: dict | None = None) -> None:
        super().__init__(f"{status}: {problem.get('detail') or problem}")
        self.status, self.problem, self.headers = status, problem, headers or {}


def _result(response: requests.Response) -> dict:
    if response.ok:
        return response.json()
    try:
        problem = response.json()
    except ValueError:
        problem = {"detail": response.text[:200]}
    raise DownstreamError(response.status_code, problem if isinstance(problem, dict) else {}, dict(response.headers))


class TokenRefused(Exception):
    """No token for the API: Entra refused (an AADSTS code) or the identity endpoint is unreachable."""

    @property
    def permanent(self) -> bool:
        return "AADSTS" in str(self)


class NotificationApi:
    def __init__(self, client: BearerClient) -> None:
        self.client = client

    def _call(self, method: str, path: str, **kwargs) -> dict:
        try:
            return _result(self.client.request(method, path, **kwargs))
        except requests.RequestException as exc:  # unreachable after the retries
            raise DownstreamError(None, {"detail": f"the API did not answer: {type(exc).__name__}"}) from exc
        except AzureError as exc:  # from the credential: Entra said no, or the identity endpoint is down
            raise TokenRefused(exc.message) from exc

    def pending(self, limit: int = 500) -> list[dict]:
        items: list[dict] = []
        token = None
        while len(items) < limit:
            params = {"status": "pending", "top": 100, **({"pageToken": token} if token else {})}
            page = self._call("GET", "/notifications", params=params)
            items += page["items"]
            token = page.get("nextPageToken")
            if not token:
                break
        return items[:limit]

    def create(self, notification: dict, idempotency_key: str | None = None) -> dict:
        key = idempotency_key or str(uuid.uuid4())  # the same key on every retry of this call
        return self._call("POST", "/notifications", json=notification, headers={"Idempotency-Key": key})

    def acknowledge(self, notification_id: str) -> dict:
        return self._call("POST", f"/notifications/{notification_id}/ack")
