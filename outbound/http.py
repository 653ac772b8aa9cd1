"""An HTTP client for calling APIs with a bearer token: retries, timeouts, one 401 retry.

Built on ``requests`` + ``urllib3.Retry`` (not hand-written loops): 429/502/503/504 are retried
with jittered exponential backoff, honouring ``Retry-After`` up to a cap, for every method. That
is safe here because our POSTs carry an ``Idempotency-Key``: a retried create cannot duplicate.

Where the token comes from is the caller's business: ``credential_tokens`` for an app acting as
itself (managed identity), an on-behalf-of exchange for an app acting as a user.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import requests
from azure.core.credentials import TokenCredential
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

log = logging.getLogger(__name__)

TokenProvider = Callable[[bool], str]  # fresh -> access token; fresh=True must bypass any cache
TIMEOUT = (3.05, 10)  # connect, read (seconds)
RETRY = Retry(
    total=3,
    connect=2,
    read=1,
    status=3,
    status_forcelist=(429, 502, 503, 504),
    allowed_methods=None,  # all methods: POSTs carry Idempotency-Key
    backoff_factor=0.3,
    backoff_jitter=0.3,
    backoff_max=4,
    respect_retry_after_header=True,
    retry_after_max=10,
    raise_on_status=False,  # hand the last answer back; the caller maps it to a problem
)


def retrying_session() -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=RETRY, pool_maxsize=32)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def credential_tokens(credential: TokenCredential, scope: str) -> TokenProvider:
    """Tokens for ``scope`` from a credential that lives as long as the process."""
    # One request at a time: azure-identity does not merge concurrent requests for an uncached
    # token, so a burst at start-up would hit the identity endpoint once per thread. Cached
    # lookups under the lock take microseconds.
    lock = threading.Lock()

    def token(fresh: bool = False) -> str:
        with lock:
            # A claims challenge is the supported way to make azure-identity skip its token cache.
            return credential.get_token(scope, claims="{}" if fresh else None).token

    return token


class DownstreamError(Exception):
    """The API answered with an error (``status``), or did not answer at all (``status`` None)."""

    def __init__(self, status: int | None, problem: dict[str, Any], headers: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status}: {problem.get('detail') or problem}")
        self.status, self.problem, self.headers = status, problem, headers or {}


class BearerClient:
    """Calls one API with tokens from ``tokens``. Share one session per process."""

    def __init__(self, base_url: str, tokens: TokenProvider, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.session = session or retrying_session()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        kwargs.setdefault("timeout", TIMEOUT)
        url = f"{self.base_url}{path}"
        response = self.session.request(
            method, url, headers={**headers, "Authorization": f"Bearer {self.tokens(False)}"}, **kwargs
        )
        if response.status_code == 401:
            # Once, with a token fetched anew (a key rollover, a revoked token); never in a loop.
            log.warning("%s %s answered 401; retrying once with a fresh token", method, path)
            response = self.session.request(
                method, url, headers={**headers, "Authorization": f"Bearer {self.tokens(True)}"}, **kwargs
            )
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """The JSON body of a 2xx answer, else DownstreamError with the API's problem details."""
        try:
            response = self.request(method, path, **kwargs)
        except requests.RequestException as exc:  # unreachable after the retries
            raise DownstreamError(None, {"detail": f"the API did not answer: {type(exc).__name__}"}) from exc
        if response.ok:
            body = response.json()
            if not isinstance(body, dict):
                raise DownstreamError(response.status_code, {"detail": "the API answered JSON that is not an object"})
            return body
        try:
            problem = response.json()
        except ValueError:
            problem = {"detail": response.text[:200]}
        raise DownstreamError(
            response.status_code, problem if isinstance(problem, dict) else {}, dict(response.headers)
        )
