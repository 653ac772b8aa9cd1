"""The notification API as the caller app sees it: a few calls over the authenticated client."""

from __future__ import annotations

import json
import re
from typing import Any

from azure.core.exceptions import AzureError

from outbound import BearerClient, DownstreamError
from web import Problem, problems

from . import diagnosis

__all__ = ["NotificationApi", "TokenRefused"]

_AADSTS = re.compile(r"\bAADSTS(\d+):")


class TokenRefused(Problem):
    """No token for the API: Entra refused it (``codes``: its AADSTS numbers; 403 with the fix: retrying
    will not help until an admin changes something), or the identity endpoint did not answer (no
    codes; 503, retry later)."""

    def __init__(self, message: str, codes: tuple[int, ...] = ()) -> None:
        self.codes = codes
        if codes:
            fix = diagnosis.token_refused(message)
            super().__init__(403, f"No token for the notification API: {message}", codes=list(codes), fix=fix)
        else:
            detail = f"The identity endpoint did not answer: {message}"
            super().__init__(503, detail, headers=problems.RETRY_LATER)

    @classmethod
    def from_azure_error(cls, exc: AzureError) -> TokenRefused:
        return cls(exc.message, entra_error_codes(exc))


def entra_error_codes(exc: AzureError) -> tuple[int, ...]:
    """Entra's AADSTS numbers for a refused token request; empty when Entra never answered.

    From the ``error_codes`` of Entra's JSON body when azure-identity attached the response. Its
    managed identity credential (1.27, on MSAL) attaches none: it raises CredentialUnavailableError
    whose message ends with Entra's ``error_description`` ("... (invalid_scope) 400, AADSTS501051:
    ..."), so the codes are read from there, as ``AADSTS<number>:`` tokens only.
    """
    response = getattr(exc, "response", None)
    if response is not None:
        try:
            body = json.loads(response.text())
        except (ValueError, TypeError, AttributeError):
            body = None
        codes = body.get("error_codes") if isinstance(body, dict) else None
        if isinstance(codes, list) and codes:
            return tuple(code for code in codes if isinstance(code, int))
    return tuple(int(code) for code in _AADSTS.findall(exc.message or ""))


class NotificationApi:
    def __init__(self, client: BearerClient) -> None:
        self._client = client

    def token(self) -> str:
        """The token this app sends to the API (cached by the credential). Shown, never trusted."""
        try:
            return self._client.token()
        except AzureError as exc:  # from the credential: Entra said no, or the identity endpoint is down
            raise TokenRefused.from_azure_error(exc) from exc

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str | int] | None = None,
        json: object = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        try:
            return self._client.json(method, path, params=params, json=json, headers=headers)
        except AzureError as exc:
            raise TokenRefused.from_azure_error(exc) from exc
        except DownstreamError as refused:
            if refused.downstream_status != 403:
                raise
            # About this app's own identity: the answer says which identity it is and how to fix it.
            raise Problem(403, **diagnosis.forbidden(refused.downstream_problem, self.token())) from refused

    def pending(self, limit: int = 500) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token = None
        while len(items) < limit:
            params: dict[str, str | int] = {"status": "pending", "top": 100, **({"pageToken": token} if token else {})}
            page = self._call("GET", "/notifications", params=params)
            items += page["items"]
            token = page.get("nextPageToken")
            if not token:
                break
        return items[:limit]

    def create(self, notification: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        """``idempotency_key``: the caller's own, so its retries are de-duplicated too; else the
        bearer client makes one for this call."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self._call("POST", "/notifications", json=notification, headers=headers)

    def acknowledge(self, notification_id: str) -> dict[str, Any]:
        return self._call("POST", f"/notifications/{notification_id}/ack")
