"""``python -m caller_app.get_token RESOURCE``: what a token for RESOURCE really contains, and why.

Acquires a token with the app's own credential (the managed identity in Azure or against the
emulator; your sign-in with AZURE_TOKEN_CREDENTIALS=dev), then prints its header and claims and
explains what usually goes wrong: a role you expected is missing (the 24-hour managed identity
token cache, and the letter-case workaround), v1 vs v2 tokens, app id vs App ID URI audiences.

Run it where the app runs (Kudu / SSH console in Azure): it uses only the app's own packages.

    python -m caller_app.get_token api://notification-api [--client-id ID] [--expect ROLE] [--raw | --json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

import jwt
from azure.core.exceptions import ClientAuthenticationError

from outbound import build_credential

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
    """The same resource with one letter's case flipped: a different key for the token cache."""
    start = resource.find("://") + 3 if "://" in resource else 0
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


def expected_roles(claims: dict, resource: str, directory_path: Path) -> list[str]:
    """Roles directory.json assigns to this token's client on this resource (local runs only)."""
    try:
        directory = json.loads(directory_path.read_text())
    except (OSError, ValueError):
        return []
    client = (claims.get("appid") or claims.get("azp") or "").lower()
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


def diagnose(claims: dict, resource: str, expected: list[str]) -> list[str]:
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


def describe(token: str, resource: str = "", expected: list[str] | None = None) -> dict:
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


def print_table(described: dict) -> None:
    rows = [(f"header.{k}", v) for k, v in described["header"].items()]
    rows += [(k, " ".join(v) if isinstance(v, list) else v) for k, v in described["claims"].items()]
    for k, t in described["times"].items():
        rows.append((k, f"{t['local']}" + (f"  ({t['left']} left)" if "left" in t else "")))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print()
    for note in described["diagnosis"]:
        print(f"- {note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m caller_app.get_token", description=__doc__.splitlines()[0])
    parser.add_argument(
        "resource",
        help="App ID URI or app id, e.g. api://notification-api (case matters for the managed identity cache)",
    )
    parser.add_argument(
        "--client-id",
        default=os.environ.get("AZURE_CLIENT_ID"),
        help="a user-assigned identity's client id (default: AZURE_CLIENT_ID, else system-assigned)",
    )
    parser.add_argument(
        "--expect",
        action="append",
        default=[],
        metavar="ROLE",
        help="a role the token should carry (default: what directory.json assigns, when present)",
    )
    parser.add_argument("--directory", type=Path, default=Path("directory.json"))
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--raw", action="store_true", help="print only the token")
    output.add_argument("--json", action="store_true", help="print header, claims and diagnosis as JSON")
    args = parser.parse_args(argv)

    try:
        token = build_credential(args.client_id).get_token(scope_for(args.resource)).token
    except ClientAuthenticationError as exc:
        print(f"error: no token for {args.resource}: {exc.message}", file=sys.stderr)
        return 1
    if args.raw:
        print(token)
        return 0
    claims = jwt.decode(token, options={"verify_signature": False})
    expected = args.expect or expected_roles(claims, args.resource, args.directory)
    described = describe(token, args.resource, expected)
    if args.json:
        print(json.dumps(described, indent=2))
    else:
        print_table(described)
    return 0


if __name__ == "__main__":
    sys.exit(main())
