"""The token inspector on the emulator's home page: paste a token, see what it is and whether a
given API permission would let it in, and why not.

It re-states the API's rules rather than importing app code (the emulator stands in for Azure and
imports nothing of ours), in the API's order: the token's shape and its issuer bound to its ``tid``
(401); the tenant allow-list, before any key is looked at (403); signature, the key's own issuer,
expiry, audience, ``oid`` and ``roles`` or ``scp`` (401); then the route: app tokens need the app
role, delegated tokens the scope and the user's role (403). The allow-list is the API's setting:
the form takes it, and offers the one the local stack gives the app (``localdev up`` passes
``NOTIFICATION_API_ALLOWED_TENANTS`` and ``OBO_ALLOWED_TENANTS`` to the emulator for that).
tests/emulator/test_parity.py runs the same tokens (the role matrix and named bad tokens) through
this and through auth/, and requires the same verdicts.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import jwt

from .state import State

# The API's limits (auth/validation.py), stated again: tests/emulator/test_parity.py keeps them equal.
MAX_TOKEN_LENGTH = 16 * 1024
CLOCK_SKEW = 60  # seconds of leeway on exp and nbf
TENANT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")  # as Entra writes tid
TENANT_TEMPLATE = "{tenantid}"
# Each app's allow-list setting: what the form offers when it is not given one.
ALLOWED_TENANTS_SETTINGS = {"notification-api": "NOTIFICATION_API_ALLOWED_TENANTS", "obo-proxy": "OBO_ALLOWED_TENANTS"}
_NUMERIC_DATES = ("exp", "nbf", "iat")
_STRINGS = (
    "iss", "aud", "tid", "oid", "sub", "ver", "appid", "azp", "idtyp",
    "scp", "upn", "unique_name", "preferred_username", "name", "email",
)  # fmt: skip


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


def served_tenants(state: State, resource: str, given: str | None = None) -> frozenset[str]:
    """The tenants an API serves: ``given`` (the form's comma list), else the app's allow-list setting
    as the local stack passed it, else the home tenant only (a single-tenant API)."""
    listed = given if given and given.strip() else os.environ.get(ALLOWED_TENANTS_SETTINGS.get(resource, ""), "")
    tenants = frozenset(part.strip().lower() for part in listed.split(",") if part.strip())
    return tenants or frozenset({state.directory.tenant_id})


def inspect_token(state: State, token: str, permission_key: str, tenants: str | None = None) -> Inspection:
    """What ``token`` is, and whether the route named by ``permission_key`` would let it in, in the
    API's order: shape and issuer (401), the tenant allow-list (403, before any key is used), the
    signature and the other checks every API makes (401), then the route's role and scope (403).
    ``tenants``: the API's allow-list (comma-separated), or None for the one the app is given locally."""
    result = Inspection()
    token = token.strip().removeprefix("Bearer ").strip()
    if len(token) > MAX_TOKEN_LENGTH:
        result.verdict = "refused (401)"
        result.reasons = [f"the token is {len(token)} characters; APIs refuse over 16 KiB"]
        return result
    try:
        result.header = jwt.get_unverified_header(token)
        result.claims = _claims(token)
    except (jwt.InvalidTokenError, ValueError) as exc:
        result.verdict, result.reasons = "refused (401)", [f"not a readable JWT: {exc}"]
        return result

    result.signature = _signature(state, token, result.header)
    result.expiry, late = _expiry(result.claims, int(time.time()))
    chosen = next((p for p in permissions(state) if p.key == permission_key), None)
    shape = _shape(result.header, result.claims) + _issuer(state, result.claims)
    if shape:
        result.verdict, result.reasons = "refused (401)", shape
        return result
    tid = str(result.claims["tid"])
    served = served_tenants(state, chosen.resource if chosen else "notification-api", tenants)
    if tid not in served:
        result.verdict = "refused (403)"
        result.reasons = [
            f"tenant {tid} is not a customer: the API serves {', '.join(sorted(served))} (its allow-list); "
            "roles granted in another tenant prove nothing, its own admins grant them"
        ]
        return result
    refusals = [] if result.signature.startswith("valid") else ["signature does not verify"]
    refusals += _key_issuer(state, result.header, result.claims) + late + _caller(result.claims)
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


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise ValueError("a claim appears twice")
    return dict(pairs)


def _claims(token: str) -> dict:
    """The payload, read as the API reads it: a claim named twice is not a readable token."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError(f"{len(parts)} parts, not 3")
    try:
        claims = json.loads(
            base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)), object_pairs_hook=_no_duplicates
        )
    except (binascii.Error, RecursionError) as exc:
        raise ValueError(f"payload: {type(exc).__name__}") from None
    if not isinstance(claims, dict):
        raise ValueError("the payload is not a JSON object")
    return claims


def _shape(header: dict, claims: dict) -> list[str]:
    """What the API refuses before looking at any key: algorithm, key id, claim types, tid twice."""
    refusals = []
    if header.get("alg") != "RS256":
        refusals.append(f"alg {header.get('alg')!r}: only RS256 is accepted")
    if not isinstance(header.get("kid"), str) or not header.get("kid"):
        refusals.append("no kid: the key cannot be chosen")
    for name in _NUMERIC_DATES:
        value = claims.get(name)
        if name in claims and (
            isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
        ):
            refusals.append(f"{name} is not a number")
    refusals += [f"{name} is not a string" for name in _STRINGS if name in claims and not isinstance(claims[name], str)]
    spellings = [name for name in claims if name.casefold() == "tid" or name.upper() == "TID"]
    if len(spellings) > 1:
        refusals.append(f"tid appears twice ({', '.join(spellings)}): which tenant is meant?")
    return refusals


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


def _issuers(state: State, tid: str) -> dict[str, str]:
    """A tenant's issuer per token version: Entra's two templates with ``tid`` filled in."""
    return {"1.0": f"https://sts.windows.net/{tid}/", "2.0": f"{state.config.origin}/{tid}/v2.0"}


def _issuer(state: State, claims: dict) -> list[str]:
    """``tid`` a GUID, and ``iss`` exactly that tenant's issuer of the token's own version."""
    tid, iss, ver = claims.get("tid"), claims.get("iss"), claims.get("ver")
    if not isinstance(tid, str) or not isinstance(iss, str) or not isinstance(ver, str):
        return [f"no {name} claim" for name, value in (("tid", tid), ("iss", iss), ("ver", ver)) if value is None]
    if not TENANT_ID.fullmatch(tid):
        return [f"tid {tid!r} is not a tenant id (a lower-case GUID)"]
    issuers = _issuers(state, tid)
    if issuers.get(ver) == iss:
        return []
    if iss in issuers.values():
        return [f"a v{ver} token must not carry the issuer {iss}"]
    return [f"issuer {iss!r} is not tid {tid}'s: the issuer must be Entra's template with the token's own tid"]


def _key_issuer(state: State, header: dict, claims: dict) -> list[str]:
    """A key whose published entry names an ``issuer`` signs only for it ({tenantid} filled with tid)."""
    entry = next((k for k in state.issuer.jwks().get("keys", []) if k.get("kid") == header.get("kid")), None)
    issuer = entry.get("issuer") if entry else None
    if not isinstance(issuer, str):
        return []
    tid = str(claims.get("tid"))
    effective = issuer.replace(TENANT_TEMPLATE, tid)
    if effective in (claims.get("iss"), _issuers(state, tid)["2.0"]):
        return []
    return [f"the signing key is published for issuer {issuer}, which is not this token's"]


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
