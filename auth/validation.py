"""Is this token genuine, current, from our tenant and for us? (RS256, Entra ID v1 and v2.)

Every rule is a line below; the checks PyJWT does are named in the ``jwt.decode`` call:
signature (RS256 only, key chosen by ``kid`` from the tenant's published keys and nowhere
else: ``jku``, ``x5u``, ``jwk`` and ``x5c`` headers are never read), ``exp``/``nbf`` with a
small leeway, ``aud`` in the configured list, ``iss`` one of the tenant's two issuers. Then:
every claim we read has the JSON type Entra issues, the issuer must match the token version, and
``tid`` must be ours.

Whatever the input, ``validate`` raises only ``TokenError`` (401) or ``KeysUnavailable`` (503):
tests/auth/test_validation_properties.py shows it with hypothesis.

Validated tokens are cached by their SHA-256 until they expire, because callers reuse a token
for an hour (managed identity tokens for a day) and PyJWT's decode costs ~7x the RSA check.
The cache empties whenever the tenant's published keys change, and is not consulted while a
periodic key refresh is due, so a token signed by a key no longer published stops validating
within one refresh period (key_cache.py says when keys are fetched).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import jwt

from .errors import TokenError
from .key_cache import SigningKey, SigningKeyCache
from .principal import Principal
from .settings import AuthSettings

log = logging.getLogger(__name__)

MAX_TOKEN_LENGTH = 16 * 1024  # Entra tokens are 1-3 KiB; refuse anything huge before parsing it
CLOCK_SKEW = 60  # seconds of leeway on exp and nbf
CACHE_SIZE = 10_000

# The claims we read, with the JSON type Entra gives them. PyJWT checks only what it uses (it
# accepts ``exp: "1700000000"`` and ``aud: [...]``); a value of another type is a forgery or a bug.
_NUMERIC_DATES = ("exp", "nbf", "iat")  # RFC 7519 NumericDate: a JSON number
_STRINGS = (
    "iss", "aud", "tid", "oid", "sub", "ver", "appid", "azp", "idtyp",
    "scp", "upn", "unique_name", "preferred_username", "name",
)  # fmt: skip

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


class TokenValidator:
    def __init__(
        self, settings: AuthSettings, *, cache_size: int = CACHE_SIZE, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """``clock`` times the key cache's cooldown and refresh (tests pass a fake one)."""
        self.settings = settings
        self.issuers = {
            "1.0": f"https://sts.windows.net/{settings.tenant_id}/",
            "2.0": f"{settings.authority_host}/{settings.tenant_id}/v2.0",
        }
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
        """The caller, or ``TokenError`` (401) / ``KeysUnavailable`` (503)."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise TokenError("token too large", f"{len(token)} characters, limit {MAX_TOKEN_LENGTH}")
        if not token.isascii():  # a JWT is base64url and dots; this also keeps encode() below safe
            raise TokenError("malformed token", "non-ASCII characters in the token")
        digest = hashlib.sha256(token.encode()).digest()
        cached = None if self.keys.refresh_due() else self._cached(digest)
        if cached is not None:
            return cached
        claims = self._decode(token)
        principal = Principal.from_claims(claims)
        self._remember(digest, principal, int(claims["exp"]))
        return principal

    def cached(self, token: str) -> Principal | None:
        """The caller for a token validated before and not yet expired: no I/O, no signature check.
        None means ``validate`` must do the work (which may fetch the tenant's keys)."""
        if len(token) > MAX_TOKEN_LENGTH or not token.isascii() or self.keys.refresh_due():
            return None
        return self._cached(hashlib.sha256(token.encode()).digest())

    # -- the checks ----------------------------------------------------------------------------

    def _decode(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:  # DecodeError, and the kid/crit checks' InvalidTokenError
            raise TokenError("malformed token", f"{type(exc).__name__}: {exc}") from None
        if header.get("alg") != "RS256":  # refuses "none", HS256 signed with our public key, ES256...
            raise TokenError("algorithm not allowed", f"alg {header.get('alg')!r}")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenError("token has no key id")
        key = self._signing_key(kid).key.key
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=list(self.settings.audiences),
                issuer=list(self.issuers.values()),
                leeway=CLOCK_SKEW,
                options={"require": ["exp", "nbf", "iat", "iss", "aud", "tid", "oid", "ver"]},
            )
        except jwt.InvalidTokenError as exc:
            reason = next(r for kind, r in _PYJWT_REASONS if isinstance(exc, kind))
            raise TokenError(reason, f"{type(exc).__name__}: {exc}") from None
        _check_claim_types(claims)
        # A v1 token carries the sts.windows.net issuer, a v2 token the authority's: never crossed.
        if self.issuers.get(str(claims["ver"])) != claims["iss"]:
            raise TokenError("token is from another issuer", f"ver {claims['ver']!r} with iss {claims['iss']!r}")
        if claims["tid"] != self.settings.tenant_id:
            raise TokenError("token is from another tenant", f"tid {claims['tid']!r}")
        return claims

    def _signing_key(self, kid: str) -> SigningKey:
        """The published key ``kid``: ``TokenError`` if the tenant does not publish it, ``KeysUnavailable``
        if its keys cannot be read at all."""
        return self.keys.key(self.settings.tenant_id, kid)

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


def _check_claim_types(claims: Mapping[str, object]) -> None:
    """Each claim we read has the JSON type Entra issues, or the token is refused with its name."""
    for name in _NUMERIC_DATES:
        value = claims.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise TokenError(f"malformed {name} claim", f"{name} is {type(value).__name__}, not a NumericDate")
    for name in _STRINGS:
        if name in claims and not isinstance(claims[name], str):
            raise TokenError(f"malformed {name} claim", f"{name} is {type(claims[name]).__name__}, not a string")
