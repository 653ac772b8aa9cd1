"""``python -m caller_app.get_token RESOURCE``: what a token for RESOURCE really contains, and why.

Acquires a token with the app's own credential (the managed identity in Azure or against the
emulator; your sign-in with AZURE_TOKEN_CREDENTIALS=dev), then prints its header and claims and
explains what usually goes wrong: a role you expected is missing (the 24-hour managed identity
token cache, and the letter-case workaround), v1 vs v2 tokens, app id vs App ID URI audiences.

Run it where the app runs (Kudu / SSH console in Azure): it uses only the app's own packages.

    python -m caller_app.get_token RESOURCE [--client-id ID] [--expect ROLE] [--raw | --json]

RESOURCE is an App ID URI or app id, for example api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import jwt
from azure.core.exceptions import ClientAuthenticationError

from outbound import build_credential

from .token_report import describe, expected_roles, scope_for


def print_table(described: dict[str, Any]) -> None:
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
        help="App ID URI or app id, e.g. api://<tenant id>/notification-api (case matters for the managed identity "
        "cache)",
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
