"""``python -m emulator``: serve, or talk to a running emulator (token, assign, unassign, consent, role,
credential-reset, keys).

The client commands find the emulator through ``STATE/env`` (written at start), so they need
no flags beyond ``--state-dir`` when it is not ``.emulator``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import requests

from .directory import AZURE_CLI_CLIENT_ID
from .server import serve


def read_env(state_dir: Path) -> dict[str, str]:
    path = state_dir / "env"
    if not path.exists():
        raise SystemExit(f"error: {path} not found. Start the emulator first (python -m emulator).")
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


class EmulatorClient:
    def __init__(self, state_dir: Path) -> None:
        env = read_env(state_dir)
        self.origin = env["AZURE_AUTHORITY_HOST"]
        self.tenant = env["AZURE_TENANT_ID"]
        self.bundle = env["REQUESTS_CA_BUNDLE"]
        self.session = requests.Session()

    def call(self, method: str, path: str, **kwargs) -> dict:
        try:
            # verify per request: requests lets a REQUESTS_CA_BUNDLE in the environment beat session.verify.
            response = self.session.request(method, f"{self.origin}{path}", timeout=10, verify=self.bundle, **kwargs)
        except requests.ConnectionError:
            raise SystemExit(f"error: no emulator answers on {self.origin}. Is it running?") from None
        try:
            body = response.json()
        except ValueError:
            raise SystemExit(f"error: {self.origin}{path} answered {response.status_code} without JSON") from None
        if response.status_code >= 400:
            raise SystemExit(f"error: {body.get('error_description') or body.get('error') or body}")
        return body


def tenant_id(directory: dict, name: str | None) -> str | None:
    """A tenant's id from its name in directory.json, its id or its domain; None: the home tenant."""
    if name is None:
        return None
    tenants = {directory["tenant"].get("name", "home"): directory["tenant"], **directory.get("tenants", {})}
    for key, tenant in tenants.items():
        if name.lower() in (key.lower(), str(tenant["id"]).lower(), str(tenant.get("domain", "")).lower()):
            return str(tenant["id"])
    raise SystemExit(f"error: no tenant {name!r} in directory.json (known: {', '.join(tenants)})")


def _token(args: argparse.Namespace) -> None:
    directory = json.loads(Path(args.directory).read_text())
    password = args.password
    if password is None:
        users = dict(directory.get("users", {}))
        for other in directory.get("tenants", {}).values():
            users.update(other.get("users", {}))
        user = users.get(args.user) or next((u for u in users.values() if u["userPrincipalName"] == args.user), None)
        if user is None:
            raise SystemExit(f"error: no user {args.user!r} in {args.directory}; pass --password for another login")
        password, login = user["password"], user["userPrincipalName"]
    else:
        login = args.user
    client = EmulatorClient(args.state_dir)
    tenant = tenant_id(directory, args.tenant) or client.tenant
    body = client.call(
        "POST",
        f"/{tenant}/oauth2/v2.0/token",
        data={
            "grant_type": "password",
            "client_id": args.client_id,
            "username": login,
            "password": password,
            "scope": args.scope,
        },
    )
    print(body["access_token"])


def _assignment(args: argparse.Namespace) -> None:
    client = EmulatorClient(args.state_dir)
    method = "POST" if args.command == "assign" else "DELETE"
    request = {"principal": args.principal, "resource": args.resource, "role": args.role}
    if args.tenant:
        request["tenant"] = args.tenant
    body = client.call(method, "/admin/assignments", json=request)
    verb = "assigned" if method == "POST" else "unassigned"
    state = verb if body["changed"] else f"already {verb}"
    print(f"{args.principal} {state}: {args.role} on {args.resource} in {body['tenant']}")


def _role(args: argparse.Namespace) -> None:
    """Azure RBAC: ``role assign|remove --principal NAME --role NAME --scope SCOPE``."""
    client = EmulatorClient(args.state_dir)
    method = "POST" if args.action == "assign" else "DELETE"
    body = client.call(
        method, "/admin/role-assignments", json={"principal": args.principal, "role": args.role, "scope": args.scope}
    )
    properties = body["roleAssignment"]["properties"]
    verb = "assigned" if method == "POST" else "removed"
    state = verb if body["changed"] else ("already assigned" if method == "POST" else "had no such assignment")
    print(f"{args.principal} {state}: {properties['roleDefinitionName']} at {properties['scope']}")
    if body["changed"]:
        print("In Azure a role assignment change can take up to about 10 minutes to apply; here, the next request.")


def _consent(args: argparse.Namespace) -> None:
    body = EmulatorClient(args.state_dir).call(
        "POST", "/admin/consent", json={"tenant": args.tenant, "application": args.app}
    )
    created = ", ".join(body["created"]) or "nothing new"
    print(
        f"{body['application']} consented in {body['tenant']} ({body['tenantId']}); "
        f"enterprise applications created: {created}"
    )


def _credential_reset(args: argparse.Namespace) -> None:
    body = EmulatorClient(args.state_dir).call("POST", "/admin/credentials", json={"application": args.app})
    print(body["secretText"])


def _keys(args: argparse.Namespace) -> None:
    """Signing-key rollover on the running emulator; prints what changed, then the published keys."""
    client = EmulatorClient(args.state_dir)
    action = args.action
    if action == "list":
        body = client.call("GET", "/admin/keys")
    elif action == "add":
        body = client.call("POST", "/admin/keys", json={})
    elif action == "use":
        body = client.call("POST", "/admin/keys/signing", json={"kid": args.kid})
    elif action == "retire":
        body = client.call("DELETE", "/admin/keys", json={"kid": args.kid})
    else:
        body = client.call("POST", "/admin/keys/roll", json={"emergency": args.emergency})
    if "added" in body:
        print(f"added   {body['added']} (published in every key set)")
    if "signing" in body:
        print(f"signing {body['signing']} (new tokens carry this kid)")
    if "retired" in body:
        evicted = body["evictedManagedIdentityTokens"]
        print(f"retired {body['retired']} (withdrawn; {evicted} cached managed identity token(s) it signed evicted)")
    for key in body["keys"]:
        print(f"{key['kid']}  {'signing' if key['signing'] else 'published'}")


def _kid_as_operand(argv: list[str]) -> list[str]:
    """A key id is base64url and may start with "-" (``-Qx3...``), which argparse would take for an
    option: after ``keys use`` / ``keys retire``, the first word that is none of our options is the
    kid, moved behind ``--`` at the end."""
    for i in range(len(argv) - 2):
        if argv[i] == "keys" and argv[i + 1] in ("use", "retire"):
            j = i + 2
            while j < len(argv) and argv[j].split("=", 1)[0] in ("--state-dir", "--directory", "-h", "--help"):
                j += 2 if argv[j] in ("--state-dir", "--directory") else 1
            if j < len(argv) and argv[j].startswith("-") and argv[j] != "--":
                return [*argv[:j], *argv[j + 1 :], "--", argv[j]]
            break
    return argv


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, default=Path(".emulator"))
    parser.add_argument("--directory", default="directory.json")
    # The same two options after the command (`token --state-dir X`); SUPPRESS keeps the top-level value.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state-dir", type=Path, default=argparse.SUPPRESS)
    common.add_argument("--directory", default=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command")

    def command(name: str, summary: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=summary, parents=[common])

    def add_serve_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8443, help="0 picks a free port (printed in the ready line)")
        p.add_argument(
            "--msi-cache",
            choices=["on", "off"],
            default="on",
            help="cache managed identity tokens per exact resource string, as Azure does",
        )
        p.add_argument(
            "--system-identity",
            default="caller-app",
            help="the managed identity /msi/token answers for when no client_id is given",
        )
        p.add_argument("--access-log", action="store_true")
        p.add_argument(
            "--device-code-lifetime", type=int, default=900, help="seconds to enter a device code (Entra: 900)"
        )
        p.add_argument(
            "--device-code-interval", type=int, default=5, help="seconds between device code polls (Entra: 5)"
        )

    add_serve_args(parser)
    add_serve_args(command("serve", "serve (the default)"))
    token = command("token", "sign a directory user in (Azure CLI client) and print the token")
    token.add_argument("--user", required=True, help="name or UPN from directory.json")
    token.add_argument(
        "--scope", required=True, help="for example api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/access_as_user"
    )
    token.add_argument("--password", help="defaults to the user's local password in directory.json")
    token.add_argument("--client-id", default=AZURE_CLI_CLIENT_ID)
    token.add_argument("--tenant", help="tenant name, id or domain from directory.json (default: the home tenant)")
    for name in ("assign", "unassign"):
        p = command(name, f"{name} an app role at run time")
        p.add_argument(
            "--principal",
            required=True,
            help="user, group, managed identity or application: its name, object id, client id or UPN",
        )
        p.add_argument("--resource", required=True, help="application name, for example notification-api")
        p.add_argument("--role", required=True, help="app role value, for example notification.create")
        p.add_argument("--tenant", help="the tenant whose admin assigns (name, id or domain; default: home)")
    role = command("role", "assign or remove an Azure role (RBAC on the emulator's subscription)")
    role.add_argument("action", choices=["assign", "remove"])
    role.add_argument("--principal", required=True, help="user, group, managed identity or application name")
    role.add_argument("--role", required=True, help="built-in role name or id, for example 'Website Contributor'")
    scopes = "/subscriptions/<id>[/resourceGroups/<name>[/providers/Microsoft.Web/sites/<name>]]"
    role.add_argument("--scope", required=True, help=scopes)
    consent = command("consent", "admin consent: create an app's enterprise application in a tenant")
    consent.add_argument("--tenant", required=True, help="tenant name, id or domain from directory.json")
    consent.add_argument("--app", required=True, help="application name, for example obo-proxy")
    reset = command("credential-reset", "create a client secret for an app and print it once")
    reset.add_argument("--app", required=True)
    keys = command("keys", "roll the token-signing keys over, as Entra does")
    key_actions = keys.add_subparsers(dest="action", required=True)
    key_actions.add_parser("list", help="the published keys and the one that signs", parents=[common])
    key_actions.add_parser("add", help="publish a new key without signing with it", parents=[common])
    for name, summary in (("use", "sign new tokens with a published key"), ("retire", "withdraw a key")):
        key_actions.add_parser(name, help=summary, parents=[common]).add_argument("kid")
    roll = key_actions.add_parser("roll", help="add a key and sign with it", parents=[common])
    roll.add_argument("--emergency", action="store_true", help="also retire the key that was signing, at once")

    args = parser.parse_args(_kid_as_operand(sys.argv[1:] if argv is None else argv))
    if args.command in (None, "serve"):
        return serve(
            host=args.host,
            port=args.port,
            state_dir=args.state_dir,
            directory_path=Path(args.directory),
            msi_cache=args.msi_cache == "on",
            system_identity=args.system_identity,
            access_log=args.access_log,
            device_code_lifetime=args.device_code_lifetime,
            device_code_interval=args.device_code_interval,
        )
    {
        "token": _token,
        "assign": _assignment,
        "unassign": _assignment,
        "role": _role,
        "credential-reset": _credential_reset,
        "keys": _keys,
        "consent": _consent,
    }[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
