"""Turn "403 from the API" into what happened and what to do, for the person reading the error.

The identity is read from the token we sent. Decoding it without checking the signature is
fine here: it is our own token and is only displayed, never trusted for a decision.
"""

from __future__ import annotations

from typing import Any

import jwt

from auth import client_app_id


def cache_trap(audience: str) -> str:
    """The 24-hour managed identity token cache, for the resource this app asked a token for."""
    return (
        "If the role was assigned minutes ago: managed identity tokens are cached for up to 24 hours, per exact "
        "resource string, and the cached token lacks the new role. Request the resource with one letter's case "
        "changed (for example api://<tenant id>/Notification-API instead of api://<tenant id>/notification-api) to "
        "get a fresh token now, "
        f"or wait for the cached one to expire. `python -m caller_app.get_token {audience}` shows what a token holds "
        "(locally: python -m localdev exec -- python -m caller_app.get_token ...)."
    )


DEVELOPER_TOKENS = (
    "The Azure CLI keeps the token it has for up to an hour: sign in again to see a new role at once "
    "(az account clear, then az login; locally python -m localdev az login --user NAME)."
)
SIGN_IN_AGAIN = (
    "After the fix, sign in again for a new token (az account clear, then az login; locally python -m localdev "
    "az login --user NAME)."
)
# What an admin does about each refusal Entra gives a token request (AADSTS code -> fix). A refused
# request leaves no token behind, so the 24-hour managed identity cache has nothing to do with these.
TOKEN_FIXES = {
    "AADSTS50105": "The signed-in user is not assigned to the notification API, which requires assignment. An admin "
    "assigns the user, or a group the user is in, an app role on the API's enterprise application (Users and "
    "groups; locally: python -m emulator assign --principal USER --resource notification-api --role "
    "notification.read, USER being the user's name or user principal name). " + SIGN_IN_AGAIN,
    "AADSTS65001": "Nobody consented to the client (the Azure CLI, for a developer) using the notification API. An "
    "admin pre-authorizes the Azure CLI (04b07795-8ddb-461a-bbee-02f9e1bf7b46) on the API (Expose an API > "
    "Authorized client applications) or grants admin consent. " + SIGN_IN_AGAIN,
    "AADSTS501051": "This identity holds no app role on the API, which requires assignment: assign it an app role "
    "on the API (a group's roles do not reach service principals).",
}


def identity_of(token: str) -> dict[str, Any]:
    claims = jwt.decode(token, options={"verify_signature": False})
    who: dict[str, Any] = {
        "appId": client_app_id(claims),
        "objectId": claims.get("oid"),
        "resourceId": claims.get("xms_mirid"),
        "roles": claims.get("roles", []),
        "audience": claims.get("aud"),
    }
    user = claims.get("upn") or claims.get("preferred_username")
    if user:  # a developer's token (AZURE_TOKEN_CREDENTIALS=dev): the app acts as the signed-in user
        who["user"] = user
    return who


def token_refused(message: str) -> list[str]:
    """The fixes for a token request Entra refused, by the AADSTS codes in its message."""
    fixes = [fix for code, fix in TOKEN_FIXES.items() if code in message]
    return fixes or ["Entra refused a token for this identity: read the AADSTS code above."]


def forbidden(downstream: dict[str, Any], token: str) -> dict[str, Any]:
    """The problem body for a 403 from the API: who we are, what is missing, how to fix it."""
    who = identity_of(token)
    missing = downstream.get("missing") or ["a role (the API did not say which)"]
    if "user" in who:
        return _developer_forbidden(who, missing)
    roles = [m.removeprefix("app role ") for m in missing if m.startswith("app role ")]
    fixes = [
        f"Assign the app role {role} on the notification API's enterprise application to the service principal "
        f"{who['objectId']} (Azure: the appRoleAssignedTo of the API's service principal, or infra/'s "
        f"role assignments; locally: python -m emulator assign --principal {who['objectId']} --resource "
        f"notification-api --role {role})."
        for role in roles
    ] or ["Give this identity what the API names in 'missing'."]
    return {
        "detail": f"The notification API refused this app's identity (app id {who['appId']}, object id "
        f"{who['objectId']}): it lacks {' and '.join(missing)}. Its token carries roles "
        f"{who['roles'] or 'none'}.",
        "identity": who,
        "missing": missing,
        "fix": [*fixes, cache_trap(who["audience"])],
    }


def _developer_forbidden(who: dict[str, Any], missing: list[str]) -> dict[str, Any]:
    roles = [m.removeprefix("user role ") for m in missing if m.startswith("user role ")]
    fixes = [
        f"Assign the app role {role} on the notification API's enterprise application to {who['user']} or to a "
        f"group {who['user']} is in (locally: python -m emulator assign --principal {who['user']} "
        f"--resource notification-api --role {role})."
        for role in roles
    ] or ["Give this user what the API names in 'missing'."]
    return {
        "detail": f"The notification API refused the developer {who['user']} (object id {who['objectId']}, signed "
        f"in through app id {who['appId']}): they lack {' and '.join(missing)}. Their token carries roles "
        f"{who['roles'] or 'none'}.",
        "identity": who,
        "missing": missing,
        "fix": [*fixes, DEVELOPER_TOKENS],
    }
