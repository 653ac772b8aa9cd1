"""The notification API as the caller app sees it: a few calls over the authenticated client."""

from __future__ import annotations

import uuid
from typing import Any

from azure.core.exceptions import AzureError

from outbound import BearerClient, DownstreamError

__all__ = ["DownstreamError", "NotificationApi", "TokenRefused"]


class TokenRefused(Exception):
    """No token for the API: Entra refused (an AADSTS code) or the identity endpoint is unreachable."""

    @property
    def permanent(self) -> bool:
        return "AADSTS" in str(self)


class NotificationApi:
    def __init__(self, client: BearerClient) -> None:
        self.client = client

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return self.client.json(method, path, **kwargs)
        except AzureError as exc:  # from the credential: Entra said no, or the identity endpoint is down
            raise TokenRefused(exc.message) from exc

    def pending(self, limit: int = 500) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token = None
        while len(items) < limit:
            params = {"status": "pending", "top": 100, **({"pageToken": token} if token else {})}
            page = self._call("GET", "/notifications", params=params)
            items += page["items"]
            token = page.get("nextPageToken")
            if not token:
                break
        return items[:limit]

    def create(self, notification: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        key = idempotency_key or str(uuid.uuid4())  # the same key on every retry of this call
        return self._call("POST", "/notifications", json=notification, headers={"Idempotency-Key": key})

    def acknowledge(self, notification_id: str) -> dict[str, Any]:
        return self._call("POST", f"/notifications/{notification_id}/ack")
