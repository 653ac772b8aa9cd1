#!/usr/bin/env bash
# Deploy with plain `az` (no azd): infrastructure + Entra app registrations, then the code to the
# three function apps. Safe to run again: the deployment is idempotent and the zip is rebuilt.
#
#   infra/deploy.sh <resource-group> <location> <environment-name> [extra parameters...]
#   infra/deploy.sh rg-notify westeurope notify1 debugPrincipalId=$(az ad signed-in-user show --query id -o tsv)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 3 ]; then
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
group=$1 location=$2 environment=$3
shift 3

az group create --name "$group" --location "$location" --output none

deploy() {
  az deployment group create --resource-group "$group" --name functions-s2s-auth \
    --template-file infra/main.bicep --parameters environmentName="$environment" "$@" \
    --query properties.outputs --output json
}
# Graph replication: a service principal created seconds ago may not be visible to the app role
# assignment yet ("does not exist or one of its queried reference-property objects are not
# present"). Waiting and deploying again succeeds; nothing is created twice.
if ! outputs=$(deploy "$@"); then
  echo "deployment failed; waiting 60 s for Entra replication, then trying once more" >&2
  sleep 60
  outputs=$(deploy "$@")
fi
output() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1']['value'])" <<<"$outputs"; }

python3 infra/package.py dist/app.zip
for app in "$(output API_APP_NAME)" "$(output CALLER_APP_NAME)" "$(output PROXY_APP_NAME)"; do
  echo "deploying the package to $app"
  az functionapp deployment source config-zip --resource-group "$group" --name "$app" \
    --src dist/app.zip --build-remote true --output none
done

api=$(output NOTIFICATION_API_URL)
cat <<TXT

notification API  $api
caller app        $(output CALLER_URL)
on-behalf-of      $(output OBO_PROXY_URL)
key vault         $(output KEY_VAULT_URL)

Smoke test as yourself (needs a role on the API: pass debugPrincipalId=<your object id>):
  TOKEN=\$(az account get-access-token --resource $(output NOTIFICATION_API_IDENTIFIER_URI) --query accessToken -o tsv)
  curl -s -H "Authorization: Bearer \$TOKEN" $api/notifications
  curl -s $api/health
TXT
