"""Is this token genuine, current, from a tenant we serve and for us? (RS256, Entra ID v1 and v2.)

The rules, in the order they run (each refusal names its rule; tests/auth/test_validation.py has
a token breaking each one):

1. Shape, without trusting anything: at most 16 KiB of ASCII, header ``alg`` RS256 with a ``kid``
   (``jku``, ``x5u``, ``jwk`` and ``x5c`` are never read), a payload whose claims appear once each
   (``tid`` not even twice in two letter cases, as Microsoft.IdentityModel refuses), and every
   claim we read of the JSON type Entra issues.
2. The issuer, per token: ``tid`` is a GUID and ``iss`` is exactly the v1 or the v2 issuer with
   that ``tid`` substituted, the one of the token's own ``ver``. Never a prefix or substring.
3. The tenant allow-list, on that still-unverified ``tid``: a tenant we do not serve is refused
   (403) before its keys are fetched, so random tenants cannot make us fetch anything.
4. The signature, with the tenant's key chosen by ``kid`` (key_cache.py). A key whose JWKS entry
   names an ``issuer`` is used only when that issuer, ``{tenantid}`` filled in with ``tid``, is the
   token's ``iss`` or that tenant's v2 issuer (Microsoft.IdentityModel's signing-key issuer rule).
5. PyJWT: ``exp``/``nbf`` with a small leeway, ``aud`` in the configured list, ``iss`` the exact
   string of rule 2, and the claims Entra always sends.
6. The caller (principal.py): ``oid`` and a client id, and ``roles`` or ``scp``: a token with
   neither (a service-principal-less token) is refused, not treated as an app with no roles.

Only then does a guard look at roles: the allow-list has already been checked on the verified
``tid``. Whatever the input, ``validate`` raises only ``TokenError`` (401), ``TenantNotAllowed``
(403) or ``KeysUnavailable`` (503): tests/auth/test_validation_properties.py shows it with hypothesis.

Validated tokens are cached by their SHA-256 until they expire, because callers reuse a token
for an hour (managed identity tokens for a day) and PyJWT's decode costs ~7x the RSA check.
The cache empties whenever a tenant's published keys change, and is not consulted while a
periodic key refresh is due, so a token signed by a key no longer published stops validating
within one refresh period (key_cache.py says when keys are fetched).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import jwt

from .errors import TenantNotAllowed, TokenError
from .key_cache import SigningKey, SigningKeyCache
from .principal import Principal
from .settings import AuthSettings, is_tenant_id

log = logging.getLogger(__name__)

MAX_TOKEN_LENGTH = 16 * 1024  # Entra tokens are 1-3 KiB; refuse anything huge before parsing it
CLOCK_SKEW = 60  # seconds of leeway on exp and nbf
CACHE_SIZE = 10_000
TENANT_TEMPLATE = "{tenantid}"  # how Entra's multi-tenant metadata and v2 key sets write "any tenant"

# The claims we read, with the JSON type Entra gives them. PyJWT checks only what it uses (it
# accepts ``exp: "1700000000"`` and ``aud: [...]``); a value of another type is a forgery or a bug.
_NUMERIC_DATES = ("exp", "nbf", "iat")  # RFC 7519 NumericDate: a JSON number
_STRINGS = (
    "iss", "aud", "tid", "oid", "sub", "ver", "appid", "azp", "idtyp",
    "scp", "upn", "unique_name", "preferred_username", "name", "email",
)  # fmt: skip
_REQUIRED = ["exp", "nbf", "iat", "iss", "aud", "tid", "oid", "ver"]

_PYJWT_REASONS = [  # most specific first: PyJWT's exceptions form a hierarchy
    (jwt.ExpiredSignatureError, "token expired"),
    (jwt.ImmatureSignatureError, "token not yet valid"),
    (jwt.InvalidAudienceError, "token is for another audience"),
    (jwt.InvalidIssuerError, "token is from another issuer"),
    (jwt.MissingRequiredClaimError, "token lacks a required claim"),
    (jwt.InvalidSignatureError, "signature does not verify"),
    (jwt.InvalidAlgorithmError, "algorithm not allowed"),
    (jwt.DecodeError, "malformed token"),
    (jwt.InvalidTokenError, "invalid token"),
]


def v2_issuer(authority_host: str, tenant_id: str) -> str:
    return f"{authority_host}/{tenant_id}/v2.0"


def issuers(authority_host: str, tenant_id: str) -> dict[str, str]:
    """The tenant's issuer for each token version (``ver``): Entra's two templates, ``tid`` filled in."""
    return {"1.0": f"https://sts.windows.net/{tenant_id}/", "2.0": v2_issuer(authority_host, tenant_id)}


class TokenValidator:
    def __init__(
        self, settings: AuthSettings, *, cache_size: int = CACHE_SIZE, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """``clock`` times the key cache's cooldown and refresh (tests pass a fake one)."""
        self.settings = settings
        self.keys = SigningKeyCache(
            settings.authority_host,
            cooldown=settings.key_cooldown_seconds,
            refresh=settings.key_refresh_seconds,
            on_change=self._forget_all,
            clock=clock,
        )
        self._cache: OrderedDict[bytes, Principal] = OrderedDict()
        self._cache_expiry: dict[bytes, int] = {}
        self._cache_lock = threading.Lock()
        self._cache_size = cache_size

    # -- public --------------------------------------------------------------------------------

    def validate(self, token: str) -> Principal:
        """The caller, or ``TokenError`` (401) / ``TenantNotAllowed`` (403) / ``KeysUnavailable`` (503)."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise TokenError("token too large", f"{len(token)} characters, limit {MAX_TOKEN_LENGTH}")
        if not token.isascii():  # a JWT is base64url and dots; this also keeps encode() below safe
            raise TokenError("malformed token", "non-ASCII characters in the token")
        digest = hashlib.sha256(token.encode()).digest()
        cached = self._cached(digest)
        if cached is not None and not self.keys.refresh_due(cached.tenant_id):
            return cached
        claims = self._decode(token)
        principal = Principal.from_claims(claims)
        self._remember(digest, principal, int(claims["exp"]))
        return principal

    def cached(self, token: str) -> Principal | None:
        """The caller for a token validated before and not yet expired: no I/O, no signature check.
        None means ``validate`` must do the work (which may fetch the tenant's keys)."""
        if len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            return None
        cached = self._cached(hashlib.sha256(token.encode()).digest())
        return None if cached is None or self.keys.refresh_due(cached.tenant_id) else cached

    # -- the checks ----------------------------------------------------------------------------

    def _decode(self, token: str) -> dict[str, Any]:
        kid = _key_id(token)
        unverified = _unverified_claims(token)  # rule 1
        _check_claim_types(unverified)
        tid, iss = self._issuer(unverified)  # rule 2
        if tid not in self.settings.tenants:  # rule 3: before any key of that tenant is fetched
            raise TenantNotAllowed(tid)
        key = self.keys.key(tid, kid)  # rule 4
        _check_key_issuer(key, tid, iss, v2_issuer(self.settings.authority_host, tid))
        try:  # rule 5
            claims = jwt.decode(
                token,
                key.key.key,
                algorithms=["RS256"],
                audience=list(self.settings.audiences),
                issuer=iss,
                leeway=CLOCK_SKEW,
                options={"require": _REQUIRED},
            )
        except jwt.InvalidTokenError as exc:
            reason = next(r for kind, r in _PYJWT_REASONS if isinstance(exc, kind))
            raise TokenError(reason, f"{type(exc).__name__}: {exc}") from None
        # The same bytes were read twice, so this holds; stated because roles are trusted from here on.
        if claims.get("tid") != tid or tid not in self.settings.tenants:
            raise TenantNotAllowed(tid)
        return claims

    def _issuer(self, claims: Mapping[str, object]) -> tuple[str, str]:
        """``tid`` (a GUID) and ``iss``, which must be that tenant's issuer of the token's version."""
        tid, iss, ver = claims.get("tid"), claims.get("iss"), claims.get("ver")
        if not isinstance(tid, str) or not isinstance(iss, str) or not isinstance(ver, str):
            missing = [name for name, value in (("tid", tid), ("iss", iss), ("ver", ver)) if value is None]
            raise TokenError("token lacks a required claim", f"no {', '.join(missing)}")
        if not is_tenant_id(tid):
            raise TokenError("tid is not a tenant id", f"tid {tid[:64]!r} is not a lower-case GUID")
        expected = issuers(self.settings.authority_host, tid)
        if expected.get(ver) == iss:
            return tid, iss
        named = _issuer_tenant(self.settings.authority_host, iss)
        if ver in expected and named is not None and named != tid:
            raise TokenError("issuer does not match tid", f"iss {iss[:128]!r} with tid {tid!r}")
        raise TokenError("token is from another issuer", f"ver {ver[:16]!r} with iss {iss[:128]!r}")

    # -- cache ---------------------------------------------------------------------------------

    def _cached(self, digest: bytes) -> Principal | None:
        with self._cache_lock:
            principal = self._cache.get(digest)
            if principal is None:
                return None
            if time.time() > self._cache_expiry[digest] + CLOCK_SKEW:
                del self._cache[digest], self._cache_expiry[digest]
                return None  # validate again, which says "token expired"
            self._cache.move_to_end(digest)
            return principal

    def _remember(self, digest: bytes, principal: Principal, exp: int) -> None:
        with self._cache_lock:
            self._cache[digest] = principal
            self._cache_expiry[digest] = exp
            while len(self._cache) > self._cache_size:
                oldest, _ = self._cache.popitem(last=False)
                del self._cache_expiry[oldest]

    def _forget_all(self, tenant_id: str) -> None:
        with self._cache_lock:
            self._cache.clear()
            self._cache_expiry.clear()
        log.info("signing keys of tenant %s changed; validated-token cache emptied", tenant_id)


def _key_id(token: str) -> str:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:  # DecodeError, and the kid/crit checks' InvalidTokenError
        raise TokenError("malformed token", f"{type(exc).__name__}: {exc}") from None
    if header.get("alg") != "RS256":  # refuses "none", HS256 signed with our public key, ES256...
        raise TokenError("algorithm not allowed", f"alg {header.get('alg')!r}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenError("token has no key id")
    return kid


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json.loads keeps the last of two equal names; a token that says one thing twice is refused."""
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise TokenError("malformed token", "a claim appears twice")
    return dict(pairs)


def _unverified_claims(token: str) -> dict[str, Any]:
    """The payload as PyJWT will read it, parsed first without trust (for ``tid``, ``iss``, ``ver``)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("malformed token", f"{len(parts)} parts, not 3")
    try:
        claims = json.loads(jwt.utils.base64url_decode(parts[1]), object_pairs_hook=_no_duplicates)
    except TokenError:
        raise
    # binascii.Error, UnicodeDecodeError and JSONDecodeError are ValueErrors; deep nesting is a RecursionError.
    except (ValueError, TypeError, RecursionError) as exc:
        raise TokenError("malformed token", f"payload: {type(exc).__name__}") from None
    if not isinstance(claims, dict):
        raise TokenError("malformed token", "the payload is not a JSON object")
    # Microsoft.IdentityModel refuses a tid present twice in any letter case (IDX40011); "tıd" upper-cases to TID.
    spellings = [name for name in claims if name.casefold() == "tid" or name.upper() == "TID"]
    if len(spellings) > 1:
        raise TokenError("tid appears twice", f"claims {spellings!r}")
    return claims


def _issuer_tenant(authority_host: str, iss: str) -> str | None:
    """The tenant an issuer of either form names, or None when ``iss`` is no Entra issuer of ours."""
    for prefix, suffix in (("https://sts.windows.net/", "/"), (f"{authority_host}/", "/v2.0")):
        if iss.startswith(prefix) and iss.endswith(suffix) and is_tenant_id(iss[len(prefix) : -len(suffix)]):
            return iss[len(prefix) : -len(suffix)]
    return None


def _check_key_issuer(key: SigningKey, tid: str, iss: str, tenant_v2_issuer: str) -> None:
    """A key whose JWKS entry names an issuer signs only for that issuer (rule 4); v1 key sets name none."""
    if key.issuer is None:
        return
    effective = key.issuer.replace(TENANT_TEMPLATE, tid)
    if effective not in (iss, tenant_v2_issuer):
        raise TokenError("signing key is another issuer's", f"key issuer {key.issuer[:128]!r} for iss {iss[:128]!r}")


def _check_claim_types(claims: Mapping[str, object]) -> None:
    """Each claim we read has the JSON type Entra issues, or the token is refused with its name.
    Absent claims are PyJWT's to report (rule 5)."""
    for name in _NUMERIC_DATES:
        if name not in claims:
            continue
        value = claims[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise TokenError(f"malformed {name} claim", f"{name} is {type(value).__name__}, not a NumericDate")
    for name in _STRINGS:
        if name in claims and not isinstance(claims[name], str):
            raise TokenError(f"malformed {name} claim", f"{name} is {type(claims[name]).__name__}, not a string")
