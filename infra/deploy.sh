#!/usr/bin/env bash
# Deploy with plain `az` (no azd): infrastructure + Entra app registrations, then the code to the
# three function apps. Safe to run again: the deployment is idempotent and the zip is rebuilt.
#
#   infra/deploy.sh [--what-if] <resource-group> <location> <environment-name> [parameters...]
#   infra/deploy.sh rg-notify westeurope notify1 debugPrincipalId=$(az ad signed-in-user show --query id -o tsv)
#   infra/deploy.sh --what-if rg-notify westeurope notify1     # preview the changes, deploy nothing
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; }
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
deployment=functions-s2s-auth
secret_name=webhook-signing-key
# Graph's answer when a service principal created moments ago has not reached every replica yet.
replication_error='does not exist or one of its queried reference-property objects are not present'
retry_wait=${DEPLOY_RETRY_WAIT:-60}

# ARM does not keep the case of output names (API_APP_NAME can come back as apI_APP_NAME): look
# them up case-insensitively, and say which one is missing instead of failing with a KeyError.
output() {
  python3 - "$1" "$outputs" <<'PY'
import json, sys
name, outputs = sys.argv[1], json.loads(sys.argv[2] or "{}")
found = {key.lower(): value for key, value in outputs.items()}.get(name.lower())
if found is None:
    sys.exit(f"deploy.sh: the deployment has no output {name} (outputs: {', '.join(sorted(outputs)) or 'none'})")
print(found["value"])
PY
}

# The webhook secret: a new random value only when the vault does not hold it yet. A fresh value on
# every run would give the secret a new version each deployment; '' tells the template to leave it.
secret_params=()
user_secret=false
for arg in "$@"; do
  case $arg in webhookSecret=*) user_secret=true ;; esac
done
if ! $user_secret; then
  vault=""
  if outputs=$(az deployment group show --resource-group "$group" --name "$deployment" \
    --query properties.outputs --output json 2>/dev/null); then
    vault=$(output KEY_VAULT_NAME 2>/dev/null || true)
  fi
  if [ -n "$vault" ] && az resource show --resource-group "$group" --namespace Microsoft.KeyVault \
    --parent "vaults/$vault" --resource-type secrets --name "$secret_name" --output none 2>/dev/null; then
    secret_params=(webhookSecret=)
  else
    secret_params=("webhookSecret=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')")
  fi
fi

if $what_if; then
  if [ "$(az group exists --name "$group")" != "true" ]; then
    echo "resource group $group does not exist: a deployment would create it and everything in it" >&2
    exit 0
  fi
  exec az deployment group what-if --resource-group "$group" --name "$deployment" \
    --template-file infra/main.bicep --parameters environmentName="$environment" "${secret_params[@]}" "$@"
fi

az group create --name "$group" --location "$location" --output none

deploy() {
  az deployment group create --resource-group "$group" --name "$deployment" \
    --template-file infra/main.bicep --parameters environmentName="$environment" "${secret_params[@]}" "$@" \
    --query properties.outputs --output json
}
# Graph replication: a service principal created seconds ago may not be visible to the app role
# assignment yet. Waiting and deploying once more succeeds (nothing is created twice); any other
# failure stops here.
errors=$(mktemp)
work=$(mktemp -d)
trap 'rm -rf "$errors" "$work"' EXIT
if ! outputs=$(deploy "$@" 2>"$errors"); then
  cat "$errors" >&2
  if ! grep -q "$replication_error" "$errors"; then
    exit 1
  fi
  echo "deploy.sh: Entra has not replicated a new service principal yet; waiting ${retry_wait} s, then deploying once more" >&2
  sleep "$retry_wait"
  outputs=$(deploy "$@")
fi

# Resolve every name before touching an app: a missing output stops here, not halfway.
apps=("$(output API_APP_NAME)" "$(output CALLER_APP_NAME)" "$(output PROXY_APP_NAME)")
api=$(output NOTIFICATION_API_URL)
caller=$(output CALLER_URL)
proxy=$(output OBO_PROXY_URL)
vault_url=$(output KEY_VAULT_URL)
api_uri=$(output NOTIFICATION_API_IDENTIFIER_URI)

python3 infra/package.py "$work/app.zip"
for app in "${apps[@]}"; do
  echo "deploying the package to $app"
  az functionapp deployment source config-zip --resource-group "$group" --name "$app" \
    --src "$work/app.zip" --build-remote true --output none
done

cat <<TXT

notification API  $api
caller app        $caller
on-behalf-of      $proxy
key vault         $vault_url

Smoke test as yourself (needs a role on the API: pass debugPrincipalId=<your object id>):
  TOKEN=\$(az account get-access-token --resource $api_uri --query accessToken -o tsv)
  curl -s -H "Authorization: Bearer \$TOKEN" $api/notifications
  curl -s $api/health
TXT
