"""A stand-in for the ``az`` command that answers like ARM, for testing infra/deploy.sh offline.

Put a copy named ``az`` first on PATH. It records every call (argv, and the zip it was given) as
one JSON line in $FAKE_AZ_LOG, and behaves as the environment says:

- $FAKE_AZ_SCENARIO: ``ok`` (every ``deployment group create`` succeeds), ``once:KIND`` (the first
  create fails with the error KIND, the next ones succeed: what a first real deployment often does)
  or ``always:KIND`` (every create fails with it). KIND is a key of ERRORS below.
- $FAKE_AZ_EXISTING: ``all`` (an earlier deployment succeeded: its outputs, the vault and its secret
  exist), ``vault`` (an earlier deployment failed halfway: the group, the vault and its secret exist,
  the deployment has no outputs), ``group`` (an empty group) or empty (nothing exists).
- $FAKE_AZ_VAULT_TAGGED: ``0`` leaves the vault's tags off (found by its name only).
- $FAKE_AZ_UNHEALTHY: space-separated app names whose ``config-zip`` fails Flex's health check.
- $FAKE_AZ_DROP_OUTPUT: an output name the deployment does not return.
- $FAKE_AZ_FORBIDDEN: ``1`` makes ARM refuse to show the vault's secret (403, not 404).

Successful creates print outputs whose names have lost their case, as ARM's sometimes do.
"""

from __future__ import annotations

import json
import os
import sys
import zipfile
from pathlib import Path


def graph_failure(message: str, target: str) -> str:
    """A deployment failure as `az deployment group create` prints it when a Graph resource fails."""
    body = {
        "status": "Failed",
        "error": {
            "code": "DeploymentFailed",
            "message": "At least one resource deployment operation failed. Please list deployment operations for "
            "details. Please see https://aka.ms/arm-deployment-operations for usage details.",
            "details": [{"code": "BadRequest", "target": target, "message": message}],
        },
    }
    return "ERROR: " + json.dumps(body)


GRAPH_IDS = (
    " Graph client request id: 370e13eb-3387-4e5a-b2b6-5f77c357b5dc. Graph request timestamp: 2024-11-18T00:13:49Z."
)
# The texts Azure answers with (sources in the comments), wrapped as az prints a failed deployment.
ERRORS = {
    # Graph, a just-created service principal unknown to the next call (Azure/bicep #16811).
    "reference-property": graph_failure(
        "Resource '5b3f2c1e-0000-4000-8000-000000000001' does not exist or one of its queried reference-property "
        "objects are not present." + GRAPH_IDS,
        "/resources/managedIdentityRoles",
    ),
    # Graph, an app role assignment to a just-created managed identity (msgraph-bicep-types #193).
    "reference-update": graph_failure("Not a valid reference update." + GRAPH_IDS, "/resources/managedIdentityRoles"),
    # ARM, a role assignment to a principal Entra has not replicated yet (its own message says so).
    "principal-not-found": "ERROR: "
    + json.dumps(
        {
            "code": "PrincipalNotFound",
            "message": "Principal 0f14a80d42e54d57afe046acf9dfae05 does not exist in the directory "
            "c7cb8e56-3c8d-431c-a94c-866e27a25b45. Check that you have the correct principal ID. If you are creating "
            "this principal and then immediately assigning a role, this error might be related to a replication delay.",
        }
    ),
    # Not replication: nothing to wait for.
    "quota": 'ERROR: {"code": "SubscriptionIsOverQuotaForSku", "message": "This region has quota of 0 instances"}',
    # Graph, redeploying while the earlier registration sits in deleted items (msgraph-bicep-types #137).
    "unique-name": graph_failure(
        "Another object with the same value for property uniqueName already exists." + GRAPH_IDS,
        "/resources/apiApp",
    ),
    # Graph, pre-authorizing a scope the same request creates (microsoft-graph-docs #12675's text).
    "preauthorization": graph_failure(
        "Property api.preAuthorizedApplications.delegatedPermissionIds has a Permission Id that cannot be found in "
        "the AppPermissions sets." + GRAPH_IDS,
        "/resources/apiApp",
    ),
    # ARM, redeploying before the soft-deleted vault is purged.
    "vault-deleted": 'ERROR: {"code": "ConflictError", "message": "A vault with the same name already exists in '
    'deleted state. You need to either recover or purge existing key vault."}',
}
# The Azure CLI 2.91 (appservice custom.py, check_flex_app_after_deployment), after a Flex upload.
UNHEALTHY = "ERROR: Deployment was successful but the app appears to be unhealthy. Please check the app logs."

# Outputs as ARM may return them: the names' case is not kept.
OUTPUTS = {
    "azurE_TENANT_ID": "tenant",
    "notificatioN_API_URL": "https://func-api-t1-abc123.azurewebsites.net/api",
    "notificatioN_API_APP_ID": "app-id",
    "notificatioN_API_IDENTIFIER_URI": "api://tenant/notification-api-t1-abc123",
    "obO_PROXY_APP_ID": "proxy-id",
    "obO_PROXY_IDENTIFIER_URI": "api://tenant/obo-proxy-t1-abc123",
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


def outputs() -> str:
    dropped = os.environ.get("FAKE_AZ_DROP_OUTPUT", "").lower()
    return json.dumps({k: {"type": "String", "value": v} for k, v in OUTPUTS.items() if k.lower() != dropped})


def main(args: list[str]) -> int:
    log = Path(os.environ["FAKE_AZ_LOG"])
    entry: dict = {"argv": args}
    if args[:4] == ["functionapp", "deployment", "source", "config-zip"]:
        with zipfile.ZipFile(option(args, "--src") or "") as archive:
            entry["zip"] = sorted({n.split("/")[0] for n in archive.namelist()})
    with log.open("a") as f:
        f.write(json.dumps(entry) + "\n")

    scenario = os.environ.get("FAKE_AZ_SCENARIO", "ok")
    existing = os.environ.get("FAKE_AZ_EXISTING", "")
    command = args[:3]
    if command[:2] == ["group", "create"]:
        return 0
    if command[:2] == ["group", "exists"]:
        print("true" if existing else "false")
        return 0
    if command[:2] == ["keyvault", "list"]:
        tags = {"azd-env-name": "t1"} if os.environ.get("FAKE_AZ_VAULT_TAGGED", "1") == "1" else None
        vaults = [{"name": "kvt1abc123", "tags": tags}] if existing in ("all", "vault") else []
        # Another app's vault in the same group: never ours.
        vaults.append({"name": "kvother000001", "tags": {"azd-env-name": "other"}})
        print(json.dumps(vaults))
        return 0
    if command == ["deployment", "group", "show"]:
        if existing != "all":
            print("ERROR: (DeploymentNotFound) Deployment 'functions-s2s-auth' could not be found.", file=sys.stderr)
            return 3
        print(outputs())
        return 0
    if command[:2] == ["resource", "show"]:
        if os.environ.get("FAKE_AZ_FORBIDDEN") == "1":
            print(
                "ERROR: (AuthorizationFailed) The client 'dev@contoso.com' with object id '1b2c' does not have "
                "authorization to perform action 'Microsoft.KeyVault/vaults/secrets/read' over scope '...'",
                file=sys.stderr,
            )
            return 1
        if existing in ("all", "vault") and option(args, "--parent") == "vaults/kvt1abc123":
            return 0
        print("ERROR: (ResourceNotFound) The Resource ... was not found.", file=sys.stderr)
        return 3
    if command == ["deployment", "group", "what-if"]:
        print("Resource and property changes are indicated with these symbols: + Create ~ Modify")
        return 0
    if command == ["deployment", "group", "create"]:
        creates = sum(1 for line in log.read_text().splitlines() if json.loads(line)["argv"][:3] == command)
        when, _, kind = scenario.partition(":")
        if when == "always" or (when == "once" and creates == 1):
            print(ERRORS[kind], file=sys.stderr)
            return 1
        print(json.dumps(json.loads(outputs()), indent=2))
        return 0
    if command[:2] == ["functionapp", "deployment"]:
        if option(args, "--name") in os.environ.get("FAKE_AZ_UNHEALTHY", "").split():
            print("Waiting for sync triggers...\nChecking the health of the function app", file=sys.stderr)
            print(UNHEALTHY, file=sys.stderr)
            return 1
        return 0
    print(f"fake az: unexpected command {args}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
