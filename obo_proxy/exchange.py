"""On-behalf-of: trade the signed-in user's token for a token to the API, as that same user.

One MSAL confidential client per tenant, each with its token cache. The exchange goes to the
*user's* tenant (the ``tid`` of their validated token, as Microsoft.Identity.Web does): a customer's
user is known there, with the roles that tenant's admins assigned, and nowhere else. Only tenants
the proxy serves (``OBO_ALLOWED_TENANTS``) get this far, so the clients are few. MSAL for Python does not look in
its cache during ``acquire_token_on_behalf_of`` (it always calls Entra); its documented pattern
is ``acquire_token_silent`` for the user's account first, then the exchange. Here the cache is
used only for a user token (assertion) that was already exchanged once: a new sign-in is a new
exchange, so Entra re-checks consent and assignment, as MSAL.NET does by keying OBO tokens on
the assertion.

The proxy proves who it is without a secret: a token of its user-assigned managed identity for
``api://AzureADTokenExchange`` is the client assertion, and the app registration trusts that
identity through a federated identity credential. ``OBO_CLIENT_SECRET`` is a fallback for
places with no managed identity; prefer the federated credential everywhere else.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import jwt
import msal

from outbound import TokenProvider, build_credential, credential_tokens, retrying_session

from .settings import ProxySettings

log = logging.getLogger(__name__)
TOKEN_EXCHANGE_SCOPE = "api://AzureADTokenExchange/.default"
# What msal.ConfidentialClientApplication accepts as client_credential: a secret, or a callable assertion.
ClientCredential = dict[str, Callable[[], str]] | str
# Entra refused the client assertion: its signature (signed by a key Entra has since withdrawn, as in an
# emergency key roll) or its time. The cached managed identity token is then useless: ask for a new one.
STALE_ASSERTION = {700027, 700024}


class OboFailure(Exception):
    """Entra refused the exchange; ``code`` is the first AADSTS number, ``tenant_id`` the tenant asked."""

    def __init__(self, result: Mapping[str, Any], tenant_id: str = "") -> None:
        self.tenant_id = tenant_id
        self.error = result.get("error", "")
        self.codes = result.get("error_codes") or []
        self.code = self.codes[0] if self.codes else None
        self.description = (result.get("error_description") or "").split(" Trace ID:")[0]
        super().__init__(self.description or self.error)


class FederatedAssertion:
    """MSAL's client assertion: the managed identity's token for ``api://AzureADTokenExchange``.

    MSAL calls it for every token request; the credential caches the token for hours. ``renew`` makes
    the next call skip that cache, once, after Entra refused the cached token.
    """

    def __init__(self, tokens: TokenProvider) -> None:
        self._tokens = tokens
        self._renew = False

    def __call__(self) -> str:
        fresh, self._renew = self._renew, False
        return self._tokens(fresh)

    def renew(self) -> None:
        self._renew = True


def client_credential(settings: ProxySettings) -> ClientCredential:
    """How the proxy authenticates to Entra: its managed identity (federated), or else a secret
    (``ProxySettings`` holds exactly one of the two)."""
    if settings.client_secret is None:  # the federated identity (settings hold it, or else the secret)
        identity = build_credential(settings.managed_identity_client_id)  # once per process: it caches
        return {"client_assertion": FederatedAssertion(credential_tokens(identity, TOKEN_EXCHANGE_SCOPE))}
    log.warning("on-behalf-of uses OBO_CLIENT_SECRET; a federated managed identity needs no secret")
    return settings.client_secret


class _ExchangedAssertions:
    """SHA-256 of user tokens already exchanged, until they expire (bounded)."""

    def __init__(self, limit: int = 10_000) -> None:
        self._expiry: dict[bytes, float] = {}
        self._lock = threading.Lock()
        self._limit = limit

    @staticmethod
    def _digest(assertion: str) -> bytes:
        return hashlib.sha256(assertion.encode()).digest()

    def __contains__(self, assertion: str) -> bool:
        with self._lock:
            return self._expiry.get(self._digest(assertion), 0) > time.time()

    def add(self, assertion: str, expires_on: float) -> None:
        with self._lock:
            if len(self._expiry) >= self._limit:
                now = time.time()
                self._expiry = {k: v for k, v in self._expiry.items() if v > now}
                while len(self._expiry) >= self._limit:
                    self._expiry.pop(next(iter(self._expiry)))
            self._expiry[self._digest(assertion)] = expires_on


class OnBehalfOf:
    def __init__(self, client_id: str, authority_host: str, credential: ClientCredential) -> None:
        self.client_id, self.authority_host, self.credential = client_id, authority_host.rstrip("/"), credential
        self._apps: dict[str, msal.ConfidentialClientApplication] = {}
        self._apps_lock = threading.Lock()
        self._http = retrying_session()
        self.exchanged = _ExchangedAssertions()
        assertion = credential.get("client_assertion") if isinstance(credential, dict) else None
        self._assertion = assertion if isinstance(assertion, FederatedAssertion) else None

    @classmethod
    def from_settings(cls, settings: ProxySettings) -> OnBehalfOf:
        return cls(settings.client_id, settings.auth.authority_host, client_credential(settings))

    def app(self, tenant_id: str) -> msal.ConfidentialClientApplication:
        """The confidential client whose authority is ``tenant_id``: one per tenant, made on first use."""
        with self._apps_lock:
            if tenant_id not in self._apps:
                self._apps[tenant_id] = msal.ConfidentialClientApplication(
                    self.client_id,
                    client_credential=self.credential,
                    authority=f"{self.authority_host}/{tenant_id}",
                    # Our authority comes from our own settings; no need to ask the public cloud to vouch for it.
                    instance_discovery=False,
                    http_client=self._http,
                    timeout=10,
                    token_cache=msal.TokenCache(),
                )
            return self._apps[tenant_id]

    def token(self, user_assertion: str, home_account_id: str, scope: str, fresh: bool = False) -> str:
        """The user's token for ``scope``: from the cache when it holds one, else one exchange.

        ``home_account_id`` is ``<oid>.<tid>`` of the validated incoming token: MSAL's account key (from
        the exchange's client_info), and its ``tid`` is the tenant the exchange goes to, the user's.
        ``fresh`` skips the cache (once, after the API said 401).
        """
        tenant_id = home_account_id.rpartition(".")[2]
        app = self.app(tenant_id)
        if not fresh and user_assertion in self.exchanged:
            account = next((a for a in app.get_accounts() if a.get("home_account_id") == home_account_id), None)
            cached = app.acquire_token_silent([scope], account=account) if account else None
            token = _access_token(cached)
            if token is not None:
                return token
        result = app.acquire_token_on_behalf_of(user_assertion, [scope])
        if self._assertion is not None and STALE_ASSERTION & set(result.get("error_codes") or []):
            log.warning("Entra refused the cached client assertion (%s); exchanging once with a new one",
                        result.get("error_codes"))  # fmt: skip
            self._assertion.renew()
            result = app.acquire_token_on_behalf_of(user_assertion, [scope])
        token = _access_token(result)
        if token is None:
            raise OboFailure(result, tenant_id)
        self.exchanged.add(user_assertion, _expiry(user_assertion))
        return token


def _access_token(result: Mapping[str, object] | None) -> str | None:
    """MSAL answers a dict (untyped): the token when it holds one, else None (an error, or no cache hit)."""
    token = result.get("access_token") if result else None
    return token if isinstance(token, str) else None


def _expiry(user_assertion: str) -> float:
    """When the user's token expires (already validated by the guard; read here only for the time)."""
    return float(jwt.decode(user_assertion, options={"verify_signature": False}).get("exp", 0))
