"""Who is calling, from a validated token's claims.

A caller is its tenant and object id (``tid`` + ``oid``): the only pair Entra promises is unique
and immutable. ``upn``, ``preferred_username``, ``email`` and ``unique_name`` can be changed by an
admin or a user, and a freed name can be given to someone else, so they are for display only and
never decide anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .errors import TokenError

_USER_MARKERS = ("upn", "unique_name", "preferred_username")


def _text(claims: Mapping[str, object], name: str) -> str | None:
    """A claim that must be a non-empty string, or None."""
    value = claims.get(name)
    return value if isinstance(value, str) and value else None


def client_app_id(claims: Mapping[str, object]) -> str | None:
    """The calling client's app id: ``azp`` in v2 tokens, ``appid`` in v1. The one place that knows."""
    return _text(claims, "azp") or _text(claims, "appid")


@dataclass(frozen=True)
class Principal:
    """The caller. App-only tokens carry ``roles`` and no ``scp``; delegated tokens carry ``scp``
    (what the client app may do for the user) and the *user's* ``roles``.
    """

    object_id: str  # oid: the user, or the service principal / managed identity
    tenant_id: str  # tid
    app_id: str  # the calling client: appid (v1) or azp (v2)
    roles: frozenset[str]
    scopes: frozenset[str]
    is_app: bool
    name: str | None = None
    username: str | None = None  # upn (v1) or preferred_username (v2): display only, never a key

    @classmethod
    def from_claims(cls, claims: Mapping[str, object]) -> Principal:
        roles, scp = claims.get("roles", []), claims.get("scp", "")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise TokenError("malformed roles claim", f"roles is {type(roles).__name__}, not a list of strings")
        if not isinstance(scp, str):
            raise TokenError("malformed scp claim", f"scp is {type(scp).__name__}, not a string")
        scopes = frozenset(scp.split())
        if not roles and not scopes:
            # Entra still issues tokens with neither to a client without a service principal in the
            # tenant; Microsoft.Identity.Web refuses them too (IDW10201). Nothing here can be authorized.
            raise TokenError("token has neither roles nor scp", "no roles and no scp: nothing to authorize")
        user_markers = claims.get("idtyp") == "user" or any(k in claims for k in _USER_MARKERS)
        if user_markers and not scopes:
            # A user's token always has scp; one without it is not what Entra issues to a client.
            raise TokenError("user token without scp", "a token naming a user carries roles but no scp")
        if claims.get("idtyp") == "app" and scopes:
            raise TokenError("app token with scp", "idtyp is app but the token carries scp")
        app_id = client_app_id(claims)
        oid, tid = _text(claims, "oid"), _text(claims, "tid")
        if not (app_id and oid and tid):
            raise TokenError("token lacks oid, tid or client id", "oid, tid and appid/azp must be non-empty strings")
        return cls(
            object_id=oid,
            tenant_id=tid,
            app_id=app_id,
            roles=frozenset(roles),
            scopes=scopes,
            is_app=not scopes,
            name=_text(claims, "name"),
            username=_text(claims, "upn") or _text(claims, "preferred_username"),
        )
