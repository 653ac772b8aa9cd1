"""The token inspector on the emulator's home page: paste a token, see what it is and whether a
given API permission would let it in, and why not.

It re-states the API's rules (app tokens need the app role; delegated tokens need the scope and
the user's role; the scope paired with a role is the one with its display name) rather than
importing app code: the emulator stands in for Azure and imports nothing of ours.
tests/emulator/test_parity.py runs the same tokens (the role matrix and named bad tokens) through
this and through auth/, and requires the same verdicts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import jwt

from .state import State

# The API's limits (auth/validation.py), stated again: tests/emulator/test_parity.py keeps them equal.
MAX_TOKEN_LENGTH = 16 * 1024
CLOCK_SKEW = 60  # seconds of leeway on exp and nbf


@dataclass(frozen=True)
class Permission:
    """What a route asks for: app role ``role``, or delegated ``scope`` + the user's ``role``
    (``role=None``: users only, with the scope). Roles and scopes have distinct values in Entra."""

    resource: str
    role: str | None
    scope: str | None

    @property
    def key(self) -> str:
        return f"{self.resource}|{self.role or ''}|{self.scope or ''}"

    @property
    def label(self) -> str:
        if self.role is None:
            return f"{self.resource}: scope {self.scope} (users only)"
        if self.scope is None:
            return f"{self.resource}: app role {self.role} (no scope pairs with it: apps only)"
        return f"{self.resource}: app role {self.role}, or scope {self.scope} + user role {self.role}"


def permissions(state: State) -> list[Permission]:
    found = []
    for resource in state.directory.resources.values():
        found += [Permission(resource.name, role, resource.role_scopes.get(role)) for role in resource.app_roles]
        paired = set(resource.role_scopes.values())
        found += [Permission(resource.name, None, scope) for scope in resource.scopes if scope not in paired]
    return found


@dataclass
class Inspection:
    header: dict = field(default_factory=dict)
    claims: dict = field(default_factory=dict)
    signature: str = ""
    expiry: str = ""
    verdict: str = ""
    reasons: list[str] = field(default_factory=list)


def _when(ts: object) -> str:
    if not isinstance(ts, int | float | str):
        return str(ts)
    try:
        return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (TypeError, ValueError, OverflowError, OSError):
        return str(ts)


def inspect_token(state: State, token: str, permission_key: str) -> Inspection:
    """What ``token`` is, and whether the route named by ``permission_key`` would let it in: first the
    checks every API makes (401 when one fails), then the route's role and scope (403)."""
    result = Inspection()
    token = token.strip().removeprefix("Bearer ").strip()
    if len(token) > MAX_TOKEN_LENGTH:
        result.verdict = "refused (401)"
        result.reasons = [f"the token is {len(token)} characters; APIs refuse over 16 KiB"]
        return result
    try:
        result.header = jwt.get_unverified_header(token)
        result.claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        result.verdict, result.reasons = "refused (401)", [f"not a readable JWT: {exc}"]
        return result

    result.signature = _signature(state, token, result.header)
    refusals = [] if result.signature.startswith("valid") else ["signature does not verify"]
    result.expiry, late = _expiry(result.claims, int(time.time()))
    refusals += late + _issuer(state, result.claims) + _caller(result.claims)
    chosen = next((p for p in permissions(state) if p.key == permission_key), None)
    if chosen is None:
        result.verdict, result.reasons = "not checked against a route", refusals
        return result
    refusals += _audience(state, chosen, result.claims)
    if refusals:
        result.verdict, result.reasons = "refused (401)", refusals
        return result
    missing = _missing(chosen, result.claims)
    result.verdict, result.reasons = ("refused (403)", missing) if missing else ("allowed", ["every check passed"])
    return result


def _signature(state: State, token: str, header: dict) -> str:
    """Only RS256 with one of this tenant's published keys counts."""
    if header.get("alg") != "RS256":
        return f"INVALID: alg {header.get('alg')!r} (only RS256 is accepted)"
    key = state.issuer.keys.get(header.get("kid"))
    if key is None:
        return f"INVALID: kid {header.get('kid')!r} is not one of this tenant's published signing keys"
    try:
        jwt.decode(
            token,
            key.public_key,
            algorithms=["RS256"],
            options={"verify_aud": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    except jwt.InvalidSignatureError:
        return "INVALID: the signature does not match this tenant's key"
    except jwt.InvalidTokenError as exc:  # PyJWT also checks claim types (sub, iss, jti must be strings)
        return f"INVALID: {exc}"
    return f"valid: signed by this tenant's key (kid {key.kid})"


def _expiry(claims: dict, now: int) -> tuple[str, list[str]]:
    """The expiry line, and the refusals of exp and nbf (with the API's leeway)."""
    exp, nbf = claims.get("exp"), claims.get("nbf")
    refusals = []
    if not isinstance(exp, int):
        expiry = "no exp claim"
        refusals.append("no exp claim")
    elif exp < now - CLOCK_SKEW:
        expiry = f"expired {(now - exp) // 60} min ago ({_when(exp)})"
        refusals.append("token expired")
    else:
        expiry = f"valid until {_when(exp)} ({(exp - now) // 60} min left)"
    if isinstance(nbf, int) and nbf > now + CLOCK_SKEW:
        refusals.append(f"not valid before {_when(nbf)}")
    return expiry, refusals


def _issuer(state: State, claims: dict) -> list[str]:
    """One of the tenant's two issuers, and the one of the token's own version."""
    issuers = {"1.0": state.issuer.issuer_v1, "2.0": state.issuer.issuer_v2}
    if claims.get("iss") not in issuers.values():
        return [f"issuer {claims.get('iss')!r} is not this tenant's"]
    if issuers.get(str(claims.get("ver"))) != claims.get("iss"):
        return [f"a v{claims.get('ver')} token must not carry the issuer {claims.get('iss')}"]
    return []


def _caller(claims: dict) -> list[str]:
    """Who the token is for: an object id, and roles or scopes (a token with neither authorizes nothing)."""
    refusals = []
    if not isinstance(claims.get("oid"), str) or not claims.get("oid"):
        refusals.append("no oid claim: APIs decide on the caller's object id")
    if not claims.get("roles") and not str(claims.get("scp") or "").split():
        refusals.append("neither roles nor scp: the token authorizes nothing (APIs answer 401)")
    return refusals


def _audience(state: State, chosen: Permission, claims: dict) -> list[str]:
    """The route's API by app id or App ID URI, spelled exactly; else say whose audience it is."""
    resource = state.directory.resource(chosen.resource)
    aud = str(claims.get("aud", ""))
    if aud in (resource.app_id, *resource.identifier_uris):
        return []
    other = next(
        (
            r
            for r in state.directory.resources.values()
            if aud.lower() in (r.app_id.lower(), *(u.lower() for u in r.identifier_uris))
        ),
        None,
    )
    if other is not None and other.name != resource.name:
        form = "app id" if aud.lower() == other.app_id.lower() else "App ID URI"
        return [f"audience is the {form} of another app ({other.name})"]
    if other is not None:
        return [f"audience {aud!r} differs from the registered spelling: APIs compare exactly"]
    return [f"audience {aud!r} is not {resource.name}"]


def _missing(chosen: Permission, claims: dict) -> list[str]:
    """The route's rule: app tokens need the app role; delegated tokens the scope and the user's role."""
    raw_roles = claims.get("roles")
    roles = {r for r in raw_roles if isinstance(r, str)} if isinstance(raw_roles, list) else set()
    scopes = set(str(claims.get("scp", "")).split())
    missing = []
    if not scopes:  # app-only
        if chosen.role is None:
            missing.append("an app-only token: this permission is for users only")
        elif chosen.role not in roles:
            missing.append(f"missing app role {chosen.role}")
        return missing
    if chosen.scope is None:
        missing.append(f"a user's token: no scope pairs with app role {chosen.role}")
    elif chosen.scope not in scopes:
        missing.append(f"missing scope {chosen.scope}")
    if chosen.role is not None and chosen.role not in roles:
        missing.append(f"missing user role {chosen.role}")
    return missing
