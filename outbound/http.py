"""An HTTP client for calling APIs with a bearer token: retries, timeouts, one 401 retry.

Built on ``requests`` + ``urllib3.Retry`` (not hand-written loops): 429/502/503/504 are retried
with jittered exponential backoff, honouring ``Retry-After`` up to a cap, for every method. That
is safe here because every POST carries an ``Idempotency-Key`` (``BearerClient`` adds one when the
caller did not), so a retried create cannot duplicate.

Where the token comes from is the caller's business: ``credential_tokens`` for an app acting as
itself (managed identity), an on-behalf-of exchange for an app acting as a user.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping
from typing import Any, Protocol

import requests
from azure.core.credentials import TokenCredential
from azure.identity import ManagedIdentityCredential
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from web import Problem, problems

log = logging.getLogger(__name__)


class TokenProvider(Protocol):
    """Gives an access token; ``fresh=True`` must bypass any cache (after the API answered 401)."""

    def __call__(self, fresh: bool) -> str: ...


TIMEOUT = (3.05, 10)  # connect, read (seconds): every HTTP call an app makes itself
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

    # A claims challenge is the supported way to make a managed identity credential skip its token
    # cache. Developer credentials (the Azure CLI through DefaultAzureCredential) keep no token cache
    # in this process and refuse any claims challenge (azure-identity 1.27: "doesn't support claims
    # challenges"), so they are asked plainly: each call already runs `az account get-access-token`.
    skip_cache = "{}" if isinstance(credential, ManagedIdentityCredential) else None

    def token(fresh: bool) -> str:
        with lock:
            return credential.get_token(scope, claims=skip_cache if fresh else None).token

    return token


# A downstream API refused the request itself (bad input, unknown id, conflict, size, type): our client
# made the mistake, so it hears the API's own status and words.
RELAYED_STATUSES = frozenset({400, 404, 409, 413, 415, 422})


def _heard(status: int | None, body: Mapping[str, object], service: str) -> Problem:
    """What our client hears when ``service`` answered ``status`` with problem ``body`` (None: no answer).

    A 403 names what the API said was missing; a 401 (after the bearer client's one retry with a fresh
    token) is our configuration's fault, so 502; anything else means the service is unavailable (503).
    """
    detail = body.get("detail")
    said = detail if isinstance(detail, str) and detail else None
    if status in RELAYED_STATUSES:
        relayed = said or f"The {service} refused the request."
        return Problem(status, relayed, errors=body["errors"]) if "errors" in body else Problem(status, relayed)
    if status == 403:
        missing = body.get("missing")
        return Problem(
            403,
            said or f"The {service} refused.",
            title=f"Forbidden by the {service}",
            missing=missing if isinstance(missing, list) else [],
        )
    if status == 401:
        return Problem(
            502,
            f"The {service} refused our token (401) twice{f': {said}' if said else ''}. Check the scope we "
            "request (NOTIFICATION_API_SCOPE) against the API's audiences (app id and App ID URI).",
        )
    return problems.unavailable(f"The {service} is unavailable ({status or 'no answer'}); retry later.")


class DownstreamError(Problem):
    """The API answered with an error (``downstream_status``), or did not answer at all (None).

    ``downstream_problem`` is the API's problem details body (RFC 9457) when it sent one. As a
    ``Problem`` it carries what our own client hears: the one mapping every app uses for the APIs
    it calls (their refusal of the client's input relayed, our configuration's faults as 502, the
    rest 503).
    """

    def __init__(self, status: int | None, problem: dict[str, Any], *, service: str) -> None:
        self.downstream_status, self.downstream_problem = status, problem
        heard = _heard(status, problem, service)
        super().__init__(
            heard.status,
            heard.detail,
            title=heard.title,
            headers=heard.headers,
            reason=f"the {service} answered {status or 'nothing'}",
        )
        self.extensions = heard.extensions


class BearerClient:
    """Calls one API with tokens from ``tokens``. Share one session per process. ``service`` names
    the API in what our client hears when it fails ("The notification API is unavailable ...")."""

    def __init__(
        self, base_url: str, tokens: TokenProvider, session: requests.Session | None = None, *, service: str
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.service = service
        self._tokens = tokens
        self.session = session or retrying_session()

    def token(self, *, fresh: bool = False) -> str:
        """The token this client sends (from the provider's cache unless ``fresh``)."""
        return self._tokens(fresh)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        sent = dict(headers or {})
        if method.upper() == "POST":
            # Retrying a POST (urllib3 on 429/5xx, ours on 401) is safe only with a key the API
            # de-duplicates on; the same key goes with every retry of this call.
            sent.setdefault("Idempotency-Key", str(uuid.uuid4()))
        url = f"{self.base_url}{path}"

        def send(token: str) -> requests.Response:
            auth = {**sent, "Authorization": f"Bearer {token}"}
            return self.session.request(method, url, params=params, json=json, headers=auth, timeout=TIMEOUT)

        response = send(self.token())
        if response.status_code == 401:
            # Once, with a token fetched anew (a key rollover, a revoked token); never in a loop.
            log.warning("%s %s answered 401; retrying once with a fresh token", method, path)
            response = send(self.token(fresh=True))
        return response

    def json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """The JSON body of a 2xx answer, else DownstreamError with the API's problem details."""
        try:
            response = self.request(method, path, params=params, json=json, headers=headers)
        except requests.RequestException as exc:  # unreachable after the retries
            detail = f"the API did not answer: {type(exc).__name__}"
            raise DownstreamError(None, {"detail": detail}, service=self.service) from exc
        if response.ok:
            try:
                body = response.json()
            except ValueError:  # a 2xx that is not JSON: the API is broken, not the caller
                body = None
            if not isinstance(body, dict):
                detail = "the API answered with something that is not a JSON object"
                raise DownstreamError(response.status_code, {"detail": detail}, service=self.service)
            return body
        try:
            problem = response.json()
        except ValueError:
            problem = {"detail": response.text[:200]}
        raise DownstreamError(response.status_code, problem if isinstance(problem, dict) else {}, service=self.service)
