"""The tenants' token-signing keys, cached per tenant and per key id, refreshed as Microsoft recommends.

Entra rolls its signing keys without notice, sometimes in an emergency, and publishes several at
once. Microsoft's guidance (signing-key-rollover) for a validator, which this module follows:

- keys are cached per tenant (``cache[tid][kid]``), discovered from that tenant's own metadata;
- the key set is read on first use and again every ``refresh`` seconds (Microsoft: every hour), so a
  key no longer published stops validating within one refresh period;
- a token signed by a key not in the cache triggers one fetch on the spot, but no more than one per
  ``cooldown`` (Microsoft: 5 minutes) per tenant, so a flood of made-up key ids cannot hammer Entra;
- a fetch that fails, or answers something that is not a usable key set, keeps the last good keys.

Why not ``jwt.PyJWKClient``: in PyJWT 2.15 every successful fetch, the first one included, starts its
cooldown, so a key first used within ``cooldown_duration`` of start-up or of any refresh is refused
until the cooldown ends. Here the cooldown is counted from the last *unknown-kid* refresh only. PyJWT
still parses each key (``PyJWK``) and verifies every signature.

``SigningKey.issuer`` is the JWKS ``issuer`` property Entra puts on v2 keys (the ``{tenantid}``
template, or the tenant's issuer); None when the key set carries none (v1 documents).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
import requests

from .errors import KeysUnavailable, TokenError

log = logging.getLogger(__name__)

COOLDOWN_SECONDS = 300  # Microsoft: an unknown key id refreshes "no more frequently than 5mins"
REFRESH_SECONDS = 3600  # Microsoft: refresh "Periodically (recommended every 1 hour)"
KEY_LIFETIME_SECONDS = 24 * 3600  # Microsoft: keys live 24 h in the cache; the last good keys no longer
RETRY_AFTER_FAILURE_SECONDS = 10  # a failed fetch is not tried again sooner (Entra down: no stampede)
FETCH_TIMEOUT = (3.05, 5)  # connect, read (seconds)
MAX_DOCUMENT_BYTES = 1024 * 1024  # Entra's key sets are a few KiB
MAX_KEYS = 1000  # Microsoft: "a cache capable of storing many distinct keys (10-1000)"

# Entra tenant ids are GUIDs; anything else never reaches a URL.
_TENANT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


@dataclass(frozen=True)
class SigningKey:
    """One published key: PyJWT's parsed key, and the key set's ``issuer`` property (None if absent)."""

    kid: str
    key: jwt.PyJWK
    issuer: str | None


class _FetchFailed(Exception):
    """The metadata or the key set could not be read, or held no usable key."""


@dataclass
class _Tenant:
    lock: threading.Lock = field(default_factory=threading.Lock)  # held by the one thread fetching
    jwks_uri: str | None = None
    keys: Mapping[str, SigningKey] = field(default_factory=dict)  # replaced whole, never changed in place
    fetched_at: float | None = None  # last successful fetch
    failed_at: float | None = None  # last failed fetch
    failure: str = ""
    unknown_kid_at: float | None = None  # last refresh caused by an unknown key id: starts the cooldown


class SigningKeyCache:
    """``key(tenant_id, kid)``: the published key, fetching the tenant's key set when Microsoft's rules say so.

    ``on_change(tenant_id)`` runs after a refresh changed a tenant's published key ids (a key added or
    removed), so the caller can drop whatever it concluded from the old set (validated tokens).
    """

    def __init__(
        self,
        authority_host: str,
        *,
        cooldown: float = COOLDOWN_SECONDS,
        refresh: float = REFRESH_SECONDS,
        on_change: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.authority_host = authority_host.rstrip("/")
        self.cooldown = cooldown
        self.refresh = refresh
        self._on_change = on_change
        self._clock = clock
        self._tenants: dict[str, _Tenant] = {}
        self._tenants_lock = threading.Lock()

    # -- public --------------------------------------------------------------------------------

    def key(self, tenant_id: str, kid: str) -> SigningKey:
        """The key ``kid`` of ``tenant_id``. ``TokenError`` (401) when the tenant does not publish it,
        ``KeysUnavailable`` (503) when its keys cannot be read and none are cached."""
        tenant = self._tenant(tenant_id)
        self._refresh_if_due(tenant_id, tenant)
        found = self._usable(tenant).get(kid)
        if found is not None:
            return found
        with tenant.lock:  # one unknown-kid refresh per tenant at a time; the others wait for its result
            found = self._usable(tenant).get(kid)
            if found is not None:
                return found
            now = self._clock()
            if tenant.unknown_kid_at is not None and now - tenant.unknown_kid_at < self.cooldown:
                raise TokenError("signing key not found", f"kid {kid[:64]!r}; key set refreshed under the cooldown")
            tenant.unknown_kid_at = now
            log.info("unknown signing key id for tenant %s: refreshing its keys", tenant_id)
            if not self._fetch(tenant_id, tenant):
                raise KeysUnavailable(f"cannot read the signing keys of tenant {tenant_id}: {tenant.failure}")
            found = self._usable(tenant).get(kid)
        if found is None:
            raise TokenError("signing key not found", f"kid {kid[:64]!r} is not published by tenant {tenant_id}")
        return found

    def published(self, tenant_id: str) -> Mapping[str, SigningKey]:
        """The keys cached for ``tenant_id`` now, without fetching (empty if none)."""
        tenant = self._tenants.get(tenant_id.lower())
        return self._usable(tenant) if tenant else {}

    def refresh_due(self, tenant_id: str) -> bool:
        """True when the tenant's keys are due a periodic refresh: conclusions drawn from them (cached
        validations) should not be trusted without asking ``key`` first. No I/O."""
        tenant = self._tenants.get(tenant_id.lower())
        return tenant is not None and tenant.fetched_at is not None and self._due(tenant, self._clock())

    # -- when to fetch ------------------------------------------------------------------------

    def _tenant(self, tenant_id: str) -> _Tenant:
        if not _TENANT_ID.fullmatch(tenant_id):
            raise TokenError("malformed tid claim", "tid is not a GUID")
        with self._tenants_lock:
            return self._tenants.setdefault(tenant_id.lower(), _Tenant())

    def _due(self, tenant: _Tenant, now: float) -> bool:
        if tenant.failed_at is not None and now - tenant.failed_at < RETRY_AFTER_FAILURE_SECONDS:
            return False
        return tenant.fetched_at is None or now - tenant.fetched_at >= self.refresh

    def _usable(self, tenant: _Tenant) -> Mapping[str, SigningKey]:
        """The last good keys, unless they are older than a day (Microsoft's time-to-live)."""
        if tenant.fetched_at is None or self._clock() - tenant.fetched_at > KEY_LIFETIME_SECONDS:
            return {}
        return tenant.keys

    def _refresh_if_due(self, tenant_id: str, tenant: _Tenant) -> None:
        """First use, or the periodic refresh. While one thread refreshes keys already cached, the
        others go on with the cached keys; with nothing cached, they wait for that fetch."""
        if not self._due(tenant, self._clock()):
            if not self._usable(tenant) and tenant.failed_at is not None:
                raise KeysUnavailable(f"cannot read the signing keys of tenant {tenant_id}: {tenant.failure}")
            return
        if not tenant.lock.acquire(blocking=not self._usable(tenant)):
            return
        try:
            if self._due(tenant, self._clock()):
                self._fetch(tenant_id, tenant)
        finally:
            tenant.lock.release()
        if not self._usable(tenant):
            raise KeysUnavailable(f"cannot read the signing keys of tenant {tenant_id}: {tenant.failure}")

    # -- fetching (caller holds tenant.lock) ----------------------------------------------------

    def _fetch(self, tenant_id: str, tenant: _Tenant) -> bool:
        """Read the key set; on any failure keep the last good keys, remember why and answer False."""
        try:
            if tenant.jwks_uri is None:
                tenant.jwks_uri = self._jwks_uri(tenant_id)
            keys = _parse_key_set(_get_json(tenant.jwks_uri))
        except _FetchFailed as exc:
            tenant.failed_at, tenant.failure = self._clock(), str(exc)
            log.warning("keeping the last good signing keys of tenant %s: %s", tenant_id, exc)
            return False
        before = set(self._usable(tenant))
        tenant.keys, tenant.fetched_at, tenant.failed_at, tenant.failure = keys, self._clock(), None, ""
        if before and before != set(keys):
            log.info("signing keys of tenant %s changed: %d added, %d removed", tenant_id,
                     len(set(keys) - before), len(before - set(keys)))  # fmt: skip
            if self._on_change is not None:
                self._on_change(tenant_id)
        return True

    def _jwks_uri(self, tenant_id: str) -> str:
        """The tenant's own OpenID metadata names its key set; it must name the tenant's issuer too."""
        url = f"{self.authority_host}/{tenant_id}/v2.0/.well-known/openid-configuration"
        metadata = _get_json(url)
        expected = f"{self.authority_host}/{tenant_id}/v2.0"
        if metadata.get("issuer") != expected:
            raise _FetchFailed(f"{url} names issuer {str(metadata.get('issuer'))[:200]!r}, not {expected!r}")
        uri = metadata.get("jwks_uri")
        if not isinstance(uri, str) or not uri.startswith(("https://", "http://")):
            raise _FetchFailed(f"{url} is not OpenID metadata with a jwks_uri")
        return uri


def _get_json(url: str) -> dict[str, Any]:
    try:
        # No redirects: the keys come from the URL the tenant's metadata names, nowhere else.
        response = requests.get(url, timeout=FETCH_TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        raise _FetchFailed(f"{url}: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise _FetchFailed(f"{url} answered {response.status_code}")
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise _FetchFailed(f"{url} answered more than {MAX_DOCUMENT_BYTES} bytes")
    try:
        document = response.json()
    except ValueError:
        raise _FetchFailed(f"{url} did not answer JSON") from None
    if not isinstance(document, dict):
        raise _FetchFailed(f"{url} did not answer a JSON object")
    return document


def _parse_key_set(document: Mapping[str, Any]) -> dict[str, SigningKey]:
    """Every usable signing key (RSA for RS256, with a key id); a set with none is a failed fetch."""
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise _FetchFailed("the key set has no 'keys' list")
    keys: dict[str, SigningKey] = {}
    for entry in entries[:MAX_KEYS]:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA" or entry.get("use", "sig") != "sig":
            continue
        kid, issuer = entry.get("kid"), entry.get("issuer")
        if not isinstance(kid, str) or not kid or entry.get("alg", "RS256") != "RS256":
            continue
        if issuer is not None and not isinstance(issuer, str):
            continue
        try:
            parsed = jwt.PyJWK(entry, algorithm="RS256")
        except jwt.PyJWTError:  # InvalidKeyError, PyJWKError: not a key we could check a signature with
            continue
        keys[kid] = SigningKey(kid, parsed, issuer)
    if not keys:
        raise _FetchFailed("the key set holds no usable RS256 signing key")
    return keys
