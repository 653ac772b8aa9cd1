"""What a token contains and what usually goes wrong with it, for the token tool and ``/caller/token``.

A module of its own so the app package can import it without importing the ``get_token`` CLI
(``python -m caller_app.get_token`` would then find its module already imported, and warn).
Tokens are decoded without verification: for display only, never for a decision.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import jwt

from auth import client_app_id

SHOWN = (
    "aud",
    "iss",
    "ver",
    "appid",
    "azp",
    "oid",
    "sub",
    "tid",
    "roles",
    "scp",
    "idtyp",
    "upn",
    "preferred_username",
    "xms_mirid",
)


def scope_for(resource: str) -> str:
    return resource if resource.endswith("/.default") else f"{resource}/.default"


def case_variant(resource: str) -> str:
    """The same resource with one letter's case flipped: a different key for the token cache.

    The letter flipped is the first of the last path segment (``api://<tenant id>/Notification-api``),
    where a reader sees it, or of the host when there is no path.
    """
    start = resource.rstrip("/").rfind("/") + 1 if "://" in resource else 0
    for i in range(start, len(resource)):
        if resource[i].isalpha():
            return resource[:i] + resource[i].swapcase() + resource[i + 1 :]
    return resource


def _local(ts: int) -> str:
    return datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _left(exp: int) -> str:
    seconds = exp - int(time.time())
    if seconds <= 0:
        return "expired"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def expected_roles(claims: dict[str, Any], resource: str, directory_path: Path) -> list[str]:
    """Roles directory.json assigns to this token's client on this resource (local runs only)."""
    try:
        directory = json.loads(directory_path.read_text())
    except (OSError, ValueError):
        return []
    client = (client_app_id(claims) or "").lower()
    holder = next(
        (
            name
            for name, mi in directory.get("managedIdentities", {}).items()
            if mi.get("clientId", "").lower() == client
        ),
        None,
    )
    holder = holder or next(
        (name for name, app in directory.get("applications", {}).items() if app.get("appId", "").lower() == client),
        None,
    )
    wanted = resource.removesuffix("/.default").rstrip("/").lower()
    target = next(
        (
            name
            for name, app in directory.get("applications", {}).items()
            if wanted == app.get("appId", "").lower() or wanted in (u.lower() for u in app.get("identifierUris", []))
        ),
        None,
    )
    return sorted(
        {
            a["role"]
            for a in directory.get("appRoleAssignments", [])
            if a["principal"] == holder and a["resource"] == target
        }
    )


def diagnose(claims: dict[str, Any], resource: str, expected: list[str]) -> list[str]:
    notes = []
    version = claims.get("ver")
    if version == "1.0":
        notes.append(
            f"v1 token: iss {claims.get('iss')}, client id in 'appid'. The API decides the version "
            "(its requestedAccessTokenVersion), not the caller; validators must accept this issuer form."
        )
    elif version == "2.0":
        notes.append(f"v2 token: iss {claims.get('iss')}, client id in 'azp', aud is always the app id GUID.")
    aud = str(claims.get("aud", ""))
    if aud.count("-") == 4 and "://" not in aud:
        notes.append(
            f"aud is the app id {aud}. Asking for the App ID URI gives a v1 token aud = the URI; the API "
            "must list both forms in its audiences."
        )
    else:
        notes.append(
            f"aud is the App ID URI {aud}. Asking for the app id (GUID) gives aud = the GUID; the API "
            "must list both forms in its audiences."
        )
    roles = set(claims.get("roles", []))
    missing = [r for r in expected if r not in roles]
    if missing:
        notes.append(
            f"Expected role(s) {', '.join(missing)} are NOT in this token. If they were assigned recently, this is "
            "the managed identity token cache: tokens are cached for up to 24 h per exact resource string. Ask "
            f"for '{case_variant(resource.removesuffix('/.default'))}' (one letter's case changed) to get a fresh "
            "token now; the audience stays the same. Otherwise, assign the role."
        )
    elif expected:
        notes.append(f"All expected roles are present: {', '.join(expected)}.")
    if "scp" in claims:
        notes.append("Delegated token (scp): the API checks the scope and the user's own roles.")
    elif roles:
        notes.append("App-only token (roles, no scp): the API checks the app roles.")
    else:
        notes.append("Neither roles nor scp: the API will refuse every guarded route with 403.")
    return notes


def describe(token: str, resource: str = "", expected: list[str] | None = None) -> dict[str, Any]:
    """Header, claims and diagnosis of a token. Decoded without verification: for display only."""
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    times = {k: {"epoch": claims[k], "local": _local(claims[k])} for k in ("iat", "nbf", "exp") if k in claims}
    if "exp" in claims:
        times["exp"]["left"] = _left(claims["exp"])
    return {
        "header": {k: header[k] for k in ("alg", "kid", "typ") if k in header},
        "claims": {k: claims[k] for k in SHOWN if k in claims},
        "times": times,
        "diagnosis": diagnose(claims, resource or str(claims.get("aud", "")), expected or []),
    }
