"""An HTTP client for calling APIs with a bearer token: retries, timeouts, one 401 retry.

Built on ``requests`` + ``urllib3.Retry`` (not hand-written loops): 429/502/503/504 are retried
with jittered exponential backoff, honouring ``Retry-After`` up to a cap, for every method. That
is safe here because our POSTs carry an ``Idempotency-Key``: a retried create cannot duplicate.
"""

from __future__ import annotations

import logging
import threading

import requests
from azure.core.credentials import TokenCredential
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

log = logging.getLogger(__name__)

TIMEOUT = (3.05, 10)  # connect, read (seconds)
RETRY = Retry(
    total=3, connect=2, read=1, status=3,
    status_forcelist=(429, 502, 503, 504),
    allowed_methods=None,  # all methods: POSTs carry Idempotency-Key
    backoff_factor=0.3, backoff_jitter=0.3, backoff_max=4,
    respect_retry_after_header=True, retry_after_max=10,
    raise_on_status=False,  # hand the last answer back; the caller maps it to a problem
)


def retrying_session() -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=RETRY, pool_maxsize=32)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class BearerClient:
    """Calls one API as the credential's identity. One instance per process, like the credential."""

    def __init__(self, base_url: str, scope: str, credential: TokenCredential,
                 session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.scope = scope
        self.credential = credential
        self.session = session or retrying_session()
        self._token_lock = threading.Lock()

    def token(self, fresh: bool = False) -> str:
        # One request at a time: azure-identity does not merge concurrent requests for an uncached
        # token, so a burst at start-up would hit the identity endpoint once per thread. Cached
        # lookups under the lock take microseconds.
        with self._token_lock:
            # A claims challenge is the supported way to make azure-identity skip its token cache.
            return self.credential.get_token(self.scope, claims="{}" if fresh else None).token

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        kwargs.setdefault("timeout", TIMEOUT)
        response = self.session.request(method, f"{self.base_url}{path}",
                                        headers={**headers, "Authorization": f"Bearer {self.token()}"}, **kwargs)
        if response.status_code == 401:
            # Once, with a token fetched anew (a key rollover, a revoked token); never in a loop.
            log.warning("%s %s answered 401; retrying once with a fresh token", method, path)
            response = self.session.request(method, f"{self.base_url}{path}",
                                            headers={**headers, "Authorization": f"Bearer {self.token(True)}"},
                                            **kwargs)
        return response
