#!/usr/bin/env bash
# Deploy with plain `az` (no azd): infrastructure + Entra app registrations, then the code to the
# three function apps. Safe to run again: the deployment is idempotent and the zip is rebuilt.
#
#   infra/deploy.sh [--what-if] <resource-group> <location> <environment-name> [parameters...]
#   infra/deploy.sh rg-notify westeurope notify1 debugPrincipalId=$(az ad signed-in-user show --query id -o tsv)
#   infra/deploy.sh --what-if rg-notify westeurope notify1     # preview Azure's changes (not Entra's)
#
# Written for macOS's bash 3.2 too: no associative arrays, and no "${array[@]}" or "$@" that can be
# empty under `set -u` (bash before 4.4 calls an empty array unbound): the guarded forms below.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
script="$here/$(basename "$0")"
cd "$here/.."

usage() { sed -n '2,7p' "$script" | sed 's/^# \{0,1\}//'; }
fail() {
  echo "deploy.sh: $*" >&2
  exit 1
}

what_if=false
if [ "${1:-}" = "--what-if" ]; then
  what_if=true
  shift
fi
if [ $# -lt 3 ]; then
  usage
  exit 2
fi
group=$1 location=$2 environment=$3
shift 3
# main.bicep's rule (2 to 12 characters), checked here before anything is created. Hyphens but no
# underscores: function app names allow only letters, digits and hyphens.
if ! printf '%s' "$environment" | grep -Eq '^[A-Za-z0-9-]{2,12}$'; then
  fail "environment name '$environment': 2 to 12 letters, digits or hyphens (it goes into every resource name)"
fi
deployment=functions-s2s-auth
secret_name=webhook-signing-key
max_attempts=${DEPLOY_ATTEMPTS:-4}
retry_wait=${DEPLOY_RETRY_WAIT:-60}

# Every parameter for the template, never empty (so "${params[@]}" is safe on bash 3.2).
params=("environmentName=$environment")
user_secret=false
for arg in ${1+"$@"}; do
  params+=("$arg")
  case $arg in webhookSecret=*) user_secret=true ;; esac
done

# The webhook secret: a new random value only when the vault does not hold it yet; '' tells the
# template to leave it alone. The vault is found by its tag (azd-env-name) or its name, never through
# the last deployment's outputs: a deployment that failed halfway has none, and a new value would
# then overwrite the secret the webhook receiver checks signatures with.
find_vault() {
  local vaults
  vaults=$(az keyvault list --resource-group "$group" --query "[].{name: name, tags: tags}" --output json) ||
    fail "could not list the Key Vaults of $group (above); nothing was changed"
  python3 - "$environment" "$vaults" <<'PY'
import json, re, sys
environment, vaults = sys.argv[1], json.loads(sys.argv[2] or "[]")
# main.bicep: 'kv' + the environment name without hyphens + a 6-character suffix.
name = re.compile("kv" + re.escape(environment.replace("-", "").lower()) + "[a-z0-9]{6}")
ours = [v["name"] for v in vaults if (v.get("tags") or {}).get("azd-env-name") == environment or name.fullmatch(v["name"])]
if len(ours) > 1:
    sys.exit(f"deploy.sh: more than one Key Vault belongs to environment {environment}: {', '.join(ours)}")
print(ours[0] if ours else "")
PY
}

if ! $user_secret; then
  vault=""
  if [ "$(az group exists --name "$group")" = "true" ]; then
    vault=$(find_vault)
  fi
  existing=false
  if [ -n "$vault" ]; then
    # The secret's existence through ARM (control plane): reading its value would need a Key Vault
    # data role the deployer need not have. az exits with 3 for "not found"; anything else stops.
    status=0
    az resource show --resource-group "$group" --namespace Microsoft.KeyVault --parent "vaults/$vault" \
      --resource-type secrets --name "$secret_name" --output none || status=$?
    case $status in
      0) existing=true ;;
      3) existing=false ;;
      *) fail "could not tell whether $vault holds $secret_name (above); nothing was changed" ;;
    esac
  fi
  if $existing; then
    params+=("webhookSecret=")
  else
    params+=("webhookSecret=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')")
  fi
fi

if $what_if; then
  if [ "$(az group exists --name "$group")" != "true" ]; then
    echo "resource group $group does not exist: a deployment would create it and everything in it" >&2
    exit 0
  fi
  az deployment group what-if --resource-group "$group" --name "$deployment" \
    --template-file infra/main.bicep --parameters "${params[@]}"
  echo "deploy.sh: what-if shows Azure resources only: the Entra app registrations, service principals," \
    "app role assignments and federated credential (Microsoft Graph) are not in this list." >&2
  exit 0
fi

az group create --name "$group" --location "$location" --output none

deploy() {
  az deployment group create --resource-group "$group" --name "$deployment" \
    --template-file infra/main.bicep --parameters "${params[@]}" \
    --query properties.outputs --output json
}
# Entra replication: an object created seconds ago (a managed identity's service principal, a new
# app registration) may not be visible yet to the Graph call that references it. Graph says so in
# more than one way; waiting and deploying again succeeds, since nothing is created twice. Any other
# failure stops at once: retrying a quota, a policy or a name conflict only delays the message.
is_replication_error() {
  grep -q -e 'does not exist or one of its queried reference-property objects are not present' \
    -e 'Not a valid reference update' \
    -e 'PrincipalNotFound' "$1"
}
# What to do about the failures a redeployment after a clean-up meets.
explain() {
  if grep -q 'Another object with the same value for property uniqueName already exists' "$1"; then
    echo "deploy.sh: an app registration of an earlier deployment with this name is still in Entra's deleted" \
      "items: delete it permanently (docs/deploy.md, \"Clean up\"), then deploy again" >&2
  fi
  if grep -q 'already exists in deleted state' "$1"; then
    echo "deploy.sh: the Key Vault of an earlier deployment is soft-deleted: purge it (docs/deploy.md," \
      "\"Clean up\"), then deploy again" >&2
  fi
}
errors=$(mktemp)
work=$(mktemp -d)
trap 'rm -rf "$errors" "$work"' EXIT
attempt=1
while ! outputs=$(deploy 2>"$errors"); do
  cat "$errors" >&2
  if ! is_replication_error "$errors"; then
    explain "$errors"
    fail "the deployment failed (above); no code was deployed"
  fi
  if [ "$attempt" -ge "$max_attempts" ]; then
    fail "Entra had still not replicated after $attempt attempts; run deploy.sh again later (nothing is created twice)"
  fi
  attempt=$((attempt + 1))
  echo "deploy.sh: Entra has not replicated a new object yet; waiting ${retry_wait} s, then deploying again" \
    "(attempt $attempt of $max_attempts)" >&2
  sleep "$retry_wait"
done

# Resolve every output before touching an app: a missing one stops here, naming it, not halfway.
# ARM does not keep the case of output names (API_APP_NAME can come back as apI_APP_NAME): look
# them up case-insensitively. One value a line, in the order asked.
resolve() {
  python3 - "$outputs" ${1+"$@"} <<'PY'
import json, sys
outputs, names = json.loads(sys.argv[1] or "{}") or {}, sys.argv[2:]
found = {key.lower(): value["value"] for key, value in outputs.items()}
missing = [name for name in names if name.lower() not in found]
if missing:
    sys.exit(f"deploy.sh: the deployment has no output {', '.join(missing)} (outputs: {', '.join(sorted(outputs)) or 'none'}); no code was deployed")
print("\n".join(str(found[name.lower()]) for name in names))
PY
}
values=$(resolve API_APP_NAME CALLER_APP_NAME PROXY_APP_NAME NOTIFICATION_API_URL CALLER_URL OBO_PROXY_URL \
  KEY_VAULT_URL NOTIFICATION_API_IDENTIFIER_URI)
{
  read -r api_app
  read -r caller_app
  read -r proxy_app
  read -r api
  read -r caller
  read -r proxy
  read -r vault_url
  read -r api_uri
} <<<"$values"

python3 infra/package.py "$work/app.zip"
# Every app gets the package even when another fails (on Flex, az checks each app's health after the
# upload and fails the command when the host does not come up): a stop after the first app would
# leave the other two on old code. The summary names what failed.
failed=""
summary=""
for app in "$api_app" "$caller_app" "$proxy_app"; do
  echo "deploying the package to $app"
  if az functionapp deployment source config-zip --resource-group "$group" --name "$app" \
    --src "$work/app.zip" --build-remote true --output none 2>"$work/zip-errors"; then
    summary="$summary
  $app  deployed"
  else
    cat "$work/zip-errors" >&2
    failed="$failed $app"
    if grep -q 'appears to be unhealthy' "$work/zip-errors"; then
      summary="$summary
  $app  FAILED: deployed, but the app is unhealthy (its logs: Application Insights, or the portal's Log stream)"
    else
      summary="$summary
  $app  FAILED: not deployed (the error is above)"
    fi
  fi
done

cat <<TXT

notification API  $api
caller app        $caller
on-behalf-of      $proxy
key vault         $vault_url

code:$summary

Smoke test as yourself (needs a role on the API: pass debugPrincipalId=<your object id>):
  TOKEN=\$(az account get-access-token --resource $api_uri --query accessToken -o tsv)
  curl -s -H "Authorization: Bearer \$TOKEN" $api/notifications
  curl -s $api/health
TXT

if [ -n "$failed" ]; then
  fail "the code did not reach every app healthy:$failed (run deploy.sh again once fixed: it is safe)"
fi
