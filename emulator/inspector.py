"""The token inspector on the emulator's home page: paste a token, see what it is and whether a
given API permission would let it in, and why not.

It re-states the API's rules (app tokens need the app role; delegated tokens need the scope and
the user's role; the scope paired with a role is the one with its display name) rather than
importing app code: the emulator stands in for Azure and imports nothing of ours.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import jwt

from .state import State

MAX_TOKEN = 16 * 1024


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
    result = Inspection()
    token = token.strip().removeprefix("Bearer ").strip()
    if len(token) > MAX_TOKEN:
        result.verdict = "refused (401)"
        result.reasons = [f"the token is {len(token)} characters; APIs refuse over 16 KiB"]
        return result
    try:
        result.header = jwt.get_unverified_header(token)
        result.claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        result.verdict, result.reasons = "refused (401)", [f"not a readable JWT: {exc}"]
        return result

    refusals: list[str] = []
    # Signature: only RS256 with this tenant's key counts.
    if result.header.get("alg") != "RS256":
        result.signature = f"INVALID: alg {result.header.get('alg')!r} (only RS256 is accepted)"
    elif result.header.get("kid") != state.issuer.kid:
        result.signature = f"INVALID: kid {result.header.get('kid')!r} is not one of this tenant's signing keys"
    else:
        try:
            jwt.decode(
                token,
                state.issuer.public_key,
                algorithms=["RS256"],
                options={"verify_aud": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
            result.signature = f"valid: signed by this tenant's key (kid {state.issuer.kid})"
        except jwt.InvalidSignatureError:
            result.signature = "INVALID: the signature does not match this tenant's key"
    if not result.signature.startswith("valid"):
        refusals.append("signature does not verify")

    claims, now = result.claims, int(time.time())
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, int):
        result.expiry = "no exp claim"
        refusals.append("no exp claim")
    elif exp < now - 60:
        result.expiry = f"expired {(now - exp) // 60} min ago ({_when(exp)})"
        refusals.append("token expired")
    else:
        result.expiry = f"valid until {_when(exp)} ({(exp - now) // 60} min left)"
    if isinstance(nbf, int) and nbf > now + 60:
        refusals.append(f"not valid before {_when(nbf)}")

    issuers = {"1.0": state.issuer.issuer_v1, "2.0": state.issuer.issuer_v2}
    if claims.get("iss") not in issuers.values():
        refusals.append(f"issuer {claims.get('iss')!r} is not this tenant's")
    elif issuers.get(str(claims.get("ver"))) != claims.get("iss"):
        refusals.append(f"a v{claims.get('ver')} token must not carry the issuer {claims.get('iss')}")

    chosen = next((p for p in permissions(state) if p.key == permission_key), None)
    if chosen is None:
        result.verdict = "not checked against a route"
        result.reasons = refusals
        return result
    resource = state.directory.resource(chosen.resource)
    aud = str(claims.get("aud", ""))
    if aud not in (resource.app_id, *resource.identifier_uris):
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
            refusals.append(f"audience is the {form} of another app ({other.name})")
        elif other is not None:
            refusals.append(f"audience {aud!r} differs from the registered spelling: APIs compare exactly")
        else:
            refusals.append(f"audience {aud!r} is not {resource.name}")
    if refusals:
        result.verdict, result.reasons = "refused (401)", refusals
        return result

    roles, scopes = set(claims.get("roles") or []), set(str(claims.get("scp", "")).split())
    missing = []
    if not scopes:  # app-only
        if chosen.role is None:
            missing.append("an app-only token: this permission is for users only")
        elif chosen.role not in roles:
            missing.append(f"missing app role {chosen.role}")
    else:
        if chosen.scope is None:
            missing.append(f"a user's token: no scope pairs with app role {chosen.role}")
        elif chosen.scope not in scopes:
            missing.append(f"missing scope {chosen.scope}")
        if chosen.role is not None and chosen.role not in roles:
            missing.append(f"missing user role {chosen.role}")
    result.verdict, result.reasons = ("refused (403)", missing) if missing else ("allowed", ["every check passed"])
    return result
