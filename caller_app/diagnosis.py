"""Turn "403 from the API" into what happened and what to do, for the person reading the error.

The identity is read from the token we sent. Decoding it without checking the signature is
fine here: it is our own token and is only displayed, never trusted for a decision.
"""

from __future__ import annotations

from typing import Any

import jwt

CACHE_TRAP = (
    "If the role was assigned minutes ago: managed identity tokens are cached for up to 24 hours, per exact "
    "resource string, and the cached token lacks the new role. Request the resource with one letter's case "
    "changed (for example api://Notification-API instead of api://notification-api) to get a fresh token now, "
    "or wait for the cached one to expire. `python -m caller_app.get_token RESOURCE` shows what a token holds."
)


def identity_of(token: str) -> dict[str, Any]:
    claims = jwt.decode(token, options={"verify_signature": False})
    return {
        "appId": claims.get("appid") or claims.get("azp"),
        "objectId": claims.get("oid"),
        "resourceId": claims.get("xms_mirid"),
        "roles": claims.get("roles", []),
    }


def forbidden(downstream: dict[str, Any], token: str) -> dict[str, Any]:
    """The problem body for a 403 from the API: who we are, what is missing, how to fix it."""
    who = identity_of(token)
    missing = downstream.get("missing") or ["a role (the API did not say which)"]
    roles = [m.removeprefix("app role ") for m in missing if m.startswith("app role ")]
    fixes = [
        f"Assign the app role {role} on the notification API's enterprise application to the service principal "
        f"{who['objectId']} (Azure: the appRoleAssignedTo of the API's service principal, or infra/'s "
        f"role assignments; locally: python -m emulator assign --principal <identity name> --resource "
        f"notification-api --role {role})."
        for role in roles
    ] or ["Give this identity what the API names in 'missing'."]
    return {
        "detail": f"The notification API refused this app's identity (app id {who['appId']}, object id "
        f"{who['objectId']}): it lacks {' and '.join(missing)}. Its token carries roles "
        f"{who['roles'] or 'none'}.",
        "identity": who,
        "missing": missing,
        "fix": [*fixes, CACHE_TRAP],
    }
