"""A stand-in for the ``az`` command that answers like ARM, for testing infra/deploy.sh offline.

Put a copy named ``az`` first on PATH. It records every call (argv, and the zip it was given) as
one JSON line in $FAKE_AZ_LOG, and behaves as $FAKE_AZ_SCENARIO says:

- ``replication-once``: the first ``deployment group create`` fails with Graph's replication error,
  the next succeeds (what a first real deployment often does);
- ``replication-always``: every create fails with it;
- ``quota``: the create fails with an unrelated error (no retry must follow);
- ``ok``: every create succeeds.

$FAKE_AZ_EXISTING=1 makes a previous deployment and the vault's secret exist (a re-run).
Successful creates print outputs whose names have lost their case, as ARM's sometimes do.
"""

from __future__ import annotations

import json
import os
import sys
import zipfile
from pathlib import Path

REPLICATION = (
    'ERROR: {"code": "DeploymentFailed", "details": [{"code": "BadRequest", "message": '
    '"{\\"error\\":{\\"code\\":\\"Request_ResourceNotFound\\",\\"message\\":\\"Resource '
    "'5b3f2c1e-0000-4000-8000-000000000001' does not exist or one of its queried reference-property "
    'objects are not present.\\"}}"}]}'
)
QUOTA = 'ERROR: {"code": "SubscriptionIsOverQuotaForSku", "message": "This region has quota of 0 instances"}'

# Outputs as ARM may return them: the names' case is not kept.
OUTPUTS = {
    "azurE_TENANT_ID": "tenant",
    "notificatioN_API_URL": "https://func-api-t1-abc123.azurewebsites.net/api",
    "notificatioN_API_APP_ID": "app-id",
    "notificatioN_API_IDENTIFIER_URI": "api://tenant/notification-api-t1",
    "obO_PROXY_APP_ID": "proxy-id",
    "obO_PROXY_IDENTIFIER_URI": "api://tenant/obo-proxy-t1",
    "calleR_URL": "https://func-caller-t1-abc123.azurewebsites.net/api",
    "obO_PROXY_URL": "https://func-obo-t1-abc123.azurewebsites.net/api",
    "keY_VAULT_URL": "https://kvt1abc123.vault.azure.net/",
    "keY_VAULT_NAME": "kvt1abc123",
    "apI_APP_NAME": "func-api-t1-abc123",
    "calleR_APP_NAME": "func-caller-t1-abc123",
    "proxY_APP_NAME": "func-obo-t1-abc123",
}


def option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args and args.index(name) + 1 < len(args) else None


def main(args: list[str]) -> int:
    log = Path(os.environ["FAKE_AZ_LOG"])
    entry: dict = {"argv": args}
    if args[:4] == ["functionapp", "deployment", "source", "config-zip"]:
        with zipfile.ZipFile(option(args, "--src") or "") as archive:
            entry["zip"] = sorted({n.split("/")[0] for n in archive.namelist()})
    with log.open("a") as f:
        f.write(json.dumps(entry) + "\n")

    scenario = os.environ.get("FAKE_AZ_SCENARIO", "ok")
    existing = os.environ.get("FAKE_AZ_EXISTING") == "1"
    command = args[:3]
    if command[:2] == ["group", "create"]:
        return 0
    if command[:2] == ["group", "exists"]:
        print("true")
        return 0
    if command == ["deployment", "group", "show"]:
        if not existing:
            print("ERROR: (DeploymentNotFound) Deployment 'functions-s2s-auth' could not be found.", file=sys.stderr)
            return 3
        print(json.dumps({k: {"type": "String", "value": v} for k, v in OUTPUTS.items()}))
        return 0
    if command[:2] == ["resource", "show"]:
        if existing:
            print("{}")
            return 0
        print("ERROR: (ResourceNotFound) The Resource ... was not found.", file=sys.stderr)
        return 3
    if command == ["deployment", "group", "what-if"]:
        print("Resource and property changes are indicated with these symbols: + Create ~ Modify")
        return 0
    if command == ["deployment", "group", "create"]:
        creates = sum(1 for line in log.read_text().splitlines() if json.loads(line)["argv"][:3] == command)
        if scenario == "quota":
            print(QUOTA, file=sys.stderr)
            return 1
        if scenario == "replication-always" or (scenario == "replication-once" and creates == 1):
            print(REPLICATION, file=sys.stderr)
            return 1
        print(json.dumps({k: {"type": "String", "value": v} for k, v in OUTPUTS.items()}, indent=2))
        return 0
    if command[:2] == ["functionapp", "deployment"]:
        return 0
    print(f"fake az: unexpected command {args}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
