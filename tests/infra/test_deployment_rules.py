"""One named offline test per deployment rule that Azure enforces and a template can break.

Each test quotes, in a comment, what Azure answers when the rule is broken, so a change that brings
the mistake back fails CI instead of a first deployment. Where a rule depends on parameters
(hosting, environment name), the test evaluates the template's own expression (as parsed by
pycep) for the cases that matter, with the small evaluator below: it knows only the few Bicep
functions these expressions use, and fails on anything else.

(deploy.sh's rules, output-name case and the single retry, are in test_deploy_sh.py.)
"""

from __future__ import annotations

import json
import re
from typing import Any, cast

import pytest
from pycep import BicepParser

from tests.processes import ROOT

INFRA = ROOT / "infra"
DIRECTORY = json.loads((ROOT / "directory.json").read_text())


def parse(relative: str) -> dict[str, Any]:
    return cast(dict[str, Any], BicepParser().parse(file_path=INFRA / relative))


@pytest.fixture(scope="module")
def main() -> dict:
    return parse("main.bicep")


@pytest.fixture(scope="module")
def functionapp() -> dict:
    return parse("modules/functionapp.bicep")


@pytest.fixture(scope="module")
def entra() -> dict:
    return parse("modules/entra.bicep")


# -- a small evaluator of pycep expression trees -------------------------------------------------
# pycep gives identifiers and string literals both as plain strings: a string naming something in
# ``scope`` is that value, any other string a literal (with ${...} interpolated from ``scope``).


def _lookup(path: str, scope: dict):
    head = path.split(".")[0].split("[")[0]
    value = scope[head]
    for prop, index in re.findall(r"\.(\w+)|\[(\d+)\]", path[len(head) :]):
        value = value[prop] if prop else value[int(index)]
    return value


def evaluate(node, scope: dict):
    if isinstance(node, str):
        if node in scope:
            return scope[node]
        return re.sub(r"\$\{([^}]+)\}", lambda m: str(_lookup(m.group(1), scope)), node)
    if isinstance(node, list):
        return [evaluate(item, scope) for item in node]
    if not isinstance(node, dict):
        return node
    if "operator" in node:
        kind, operands = node["operator"]["type"], node["operator"]["operands"]
        if kind == "conditional":
            branch = "true_value" if evaluate(operands["condition"], scope) else "false_value"
            return evaluate(operands[branch], scope)
        if kind == "equals":
            return evaluate(operands["operand_1"], scope) == evaluate(operands["operand_2"], scope)
        if kind == "and":
            return evaluate(operands["operand_1"], scope) and evaluate(operands["operand_2"], scope)
        if kind == "substract":
            return evaluate(operands["operand_1"], scope) - evaluate(operands["operand_2"], scope)
        if kind == "index_accessor":
            return evaluate(operands["operand_1"], scope)[evaluate(operands["operand_2"], scope)]
        if kind == "property_accessor":
            return evaluate(operands["operand_1"], scope)[operands["operand_2"]]
        raise AssertionError(f"the test evaluator does not know operator {kind}")
    if "function" in node:
        function = node["function"]
        if function["type"] == "map":  # map(array, lambda): the lambda's variable in scope per item
            items, lam = evaluate(function["parameters"]["arg_1"], scope), function["parameters"]["arg_2"]["detail"]
            return [evaluate(lam["expression"], {**scope, lam["var_1"]: item}) for item in items]
        kind, args = function["type"], {k: evaluate(v, scope) for k, v in (function.get("parameters") or {}).items()}
        if kind in scope.get("functions", {}):  # a user-defined function of the template
            defined = scope["functions"][kind]
            bound = dict(zip(defined["args"], [args[f"arg_{i + 1}"] for i in range(len(args))], strict=True))
            return evaluate(defined["expression"], {**scope, **bound})
        if kind in ("tenant", "environment", "subscription"):  # deployment functions: from the scope
            return scope[f"{kind}()"]
        if kind == "empty":
            return not args["item_to_test"]
        if kind == "ends_with":
            return args["string_to_search"].endswith(args["string_to_find"])
        if kind == "substring":
            return args["string_to_parse"][args["start_index"] : args["start_index"] + args["length"]]
        if kind == "length":
            return len(args["arg_1"])
        if kind == "take":
            return args["original_value"][: args["number_to_take"]]
        if kind == "to_lower":
            return args["string_to_change"].lower()
        if kind == "replace":
            return args["original_string"].replace(args["old_string"], args["new_string"])
        if kind == "contains":
            return args["item_to_find"] in args["container"]
        if kind == "union":
            first, second = args["arg_1"], args["arg_2"]
            if isinstance(first, dict):
                return {**first, **second}
            return list(dict.fromkeys([*first, *second]))
        raise AssertionError(f"the test evaluator does not know function {kind}")
    return {key: evaluate(value, scope) for key, value in node.items()}


def variable(template: dict, name: str, scope: dict):
    return evaluate(template["variables"][name]["value"], scope)


# -- the rules ---------------------------------------------------------------------------------


def test_flex_gives_every_app_its_own_plan(main) -> None:
    # Azure: "There can only be one site per Flex Consumption serverfarm." (a second site on one FC1 plan)
    flex = {"hosting": "flex"}
    plan_keys = variable(main, "planKeys", flex)
    plan_of = variable(main, "planOf", flex)
    assert len(plan_keys) == 3
    assert sorted(plan_of.values()) == [0, 1, 2]  # three apps, three different plans
    plans = main["modules"]["plans"]["config"]
    assert plans["loop_type"]["detail"]["array_name"] == "planKeys"
    assert "${key}" in plans["config"]["name"]
    assert "${key}" in plans["config"]["params"]["name"]
    for module, key in (("apiApp", "api"), ("callerApp", "caller"), ("proxyApp", "proxy")):
        plan_id = json.dumps(main["modules"][module]["config"]["params"]["planId"])
        assert '"operand_1": "plans"' in plan_id
        assert f'"operand_1": "planOf", "operand_2": "{key}"' in plan_id
    # Premium may share one plan (and has slots).
    assert variable(main, "planKeys", {"hosting": "premium"}) == ["shared"]
    assert set(variable(main, "planOf", {"hosting": "premium"}).values()) == {0}


def test_flex_sites_send_no_classic_site_config(main, functionapp) -> None:
    # Azure, on a Flex site (its error, paraphrased): "... site configuration properties ... for
    # Flex Consumption sites is invalid" for ftpsState / linuxFxVersion (even null), and the same
    # for the app settings FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION.
    scope = {
        "flexSiteConfig": evaluate(functionapp["variables"]["flexSiteConfig"]["value"], {}),
        "premiumSiteConfig": evaluate(
            functionapp["variables"]["premiumSiteConfig"]["value"], {"pythonVersion": "3.12"}
        ),
    }
    flex = variable(functionapp, "siteConfig", {**scope, "hosting": "flex"})
    assert not {"ftpsState", "linuxFxVersion", "alwaysOn"} & set(flex), flex
    premium = variable(functionapp, "siteConfig", {**scope, "hosting": "premium"})
    assert premium["linuxFxVersion"] == "Python|3.12"
    assert premium["ftpsState"] == "Disabled"
    site = functionapp["resources"]["site"]["config"]["properties"]
    assert site["siteConfig"] == "siteConfig"
    # The app settings: the classic runtime settings reach premium only.
    settings = main["variables"]["hostSettings"]["value"]["function"]["parameters"]
    assert not {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION"} & set(settings["arg_1"])
    premium_only = evaluate(main["variables"]["premiumOnlySettings"]["value"], {})
    assert evaluate(settings["arg_2"], {"hosting": "flex", "premiumOnlySettings": premium_only}) == {}
    on_premium = evaluate(settings["arg_2"], {"hosting": "premium", "premiumOnlySettings": premium_only})
    assert on_premium["FUNCTIONS_WORKER_RUNTIME"] == "python"


def test_app_roles_and_scopes_have_distinct_values() -> None:
    # Entra: "It contains duplicate value" (portal) / DuplicateValue "Request contains a property with
    # duplicate values." (Graph) when a role and a scope share a value with different ids.
    for name, app in DIRECTORY["applications"].items():
        roles = {r["value"]: r["id"] for r in app["appRoles"]}
        scopes = {s["value"]: s["id"] for s in app["scopes"]}
        assert not set(roles) & set(scopes), f"{name}: {set(roles) & set(scopes)}"
        assert not set(roles.values()) & set(scopes.values()), name
    api = DIRECTORY["applications"]["notification-api"]
    assert {s["value"] for s in api["scopes"]} == {"Notifications.Read", "Notifications.Create"}
    assert {r["value"] for r in api["appRoles"]} == {"notification.read", "notification.create"}


TENANT = "7812c330-acf6-4d59-acac-aae48e763f41"
GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def app_id_uri(entra: dict, app: str, suffix: str) -> str:
    """The App ID URI the template gives ``app`` ('apiApp' or 'proxyApp') for a deployment suffix."""
    (uri,) = entra["resources"][app]["config"]["identifierUris"]
    scope = {"functions": entra["functions"], "tenant()": {"tenantId": TENANT}, "suffix": suffix}
    return evaluate(uri, scope)


def test_registrations_are_keyed_by_the_deployment_suffix(entra, main) -> None:
    # Graph: "Another object with the same value for property uniqueName already exists." (and the same
    # for identifierUris) when two resource groups deploy one environment name to one tenant: they
    # overwrote each other's registration and federated credential.
    assert main["modules"]["entra"]["config"]["params"]["suffix"] == "suffix"
    for unique in ("apiUniqueName", "proxyUniqueName"):
        assert "${suffix}" in entra["variables"][unique]["value"], unique
        assert "${environmentName}" in entra["variables"][unique]["value"], unique
    for app in ("apiApp", "proxyApp"):
        config = entra["resources"][app]["config"]
        assert config["uniqueName"] in ("apiUniqueName", "proxyUniqueName")
        assert app_id_uri(entra, app, "k3x9qa") != app_id_uri(entra, app, "p0d7zz")
    assert app_id_uri(entra, "apiApp", "k3x9qa") == f"api://{TENANT}/notification-api-k3x9qa"
    assert app_id_uri(entra, "proxyApp", "k3x9qa") == f"api://{TENANT}/obo-proxy-k3x9qa"
    credential = entra["resources"]["proxyApp__oboIdentityCredential"]["config"]
    assert credential["name"] == "${proxyUniqueName}/obo-proxy-identity"


def test_app_id_uris_only_in_the_multi_tenant_form(entra, main) -> None:
    # Entra: "Values of identifierUris property must use a verified domain of the organization or its
    # subdomain" (HostNameNotOnVerifiedDomain) for api://<name>; a multi-tenant app needs api://<app id>,
    # api://<tenant id>/... or a verified domain. The old identifierUriStyle=name made api://<name>-<env>.
    for app in ("apiApp", "proxyApp"):
        assert re.fullmatch(rf"api://{GUID}/[a-z-]+-k3x9qa", app_id_uri(entra, app, "k3x9qa"))
    assert "identifierUriStyle" not in main["parameters"]
    assert "identifierUriStyle" not in (INFRA / "main.parameters.json").read_text()
    for path in INFRA.rglob("*.bicep"):
        assert "identifierUriStyle" not in path.read_text(), path


def test_pre_authorization_comes_in_a_second_step(entra) -> None:
    # Graph, when a request pre-authorizes a scope it also creates: "Property
    # api.preAuthorizedApplications.delegatedPermissionIds has a Permission Id that cannot be found in
    # the AppPermissions sets." (microsoft-graph-docs-contrib #1395 reports it for one-request setups.)
    for app in ("apiApp", "proxyApp"):
        api = entra["resources"][app]["config"]["api"]
        assert "preAuthorizedApplications" not in api, app
        assert "knownClientApplications" not in api, app
        assert "oauth2PermissionScopes" in api, app
    step2 = entra["modules"]["preAuthorization"]
    assert step2["detail"]["path"] == "entraPreAuthorization.bicep"
    params = step2["config"]["params"]
    # It starts after step 1: its names are read from the registrations step 1 made.
    assert params["apiUniqueName"] == {
        "operator": {"type": "property_accessor", "operands": {"operand_1": "apiApp", "operand_2": "uniqueName"}}
    }
    assert "proxyApp" in json.dumps(params["proxyUniqueName"])
    assert "preAuthorizedApplications" in params["apiDefinition"]
    assert "preAuthorizedApplications" in params["proxyDefinition"]
    # The scopes it sends are step 1's, unchanged: Graph refuses to change an enabled scope
    # ("Permission (scope or role) cannot be deleted or updated unless disabled first.").
    for app, definition in (("apiApp", "apiDefinition"), ("proxyApp", "proxyDefinition")):
        step1_scopes = entra["resources"][app]["config"]["api"]["oauth2PermissionScopes"]
        assert params[definition]["oauth2PermissionScopes"] == step1_scopes
        assert (
            params[definition]["requestedAccessTokenVersion"]
            == entra["resources"][app]["config"]["api"]["requestedAccessTokenVersion"]
        )
    step2_file = parse("modules/entraPreAuthorization.bicep")
    applications = [r for r in step2_file["resources"].values() if r["type"] == "Microsoft.Graph/applications"]
    assert len(applications) == 2
    assert {r["config"]["api"] for r in applications} == {"apiDefinition", "proxyDefinition"}
    assert {r["config"]["uniqueName"] for r in applications} == {"apiUniqueName", "proxyUniqueName"}


def test_the_api_names_the_proxy_as_a_known_client(entra) -> None:
    # Multi-tier consent: consenting to the proxy in a customer's tenant consents to the API with it
    # only if the API lists the proxy in knownClientApplications.
    known = entra["modules"]["preAuthorization"]["config"]["params"]["apiDefinition"]["knownClientApplications"]
    assert known == [
        {"operator": {"type": "property_accessor", "operands": {"operand_1": "proxyApp", "operand_2": "appId"}}}
    ]


def test_a_scope_or_role_can_be_disabled_before_it_is_removed(entra) -> None:
    # Graph: "Permission (scope or role) cannot be deleted or updated unless disabled first."
    # (CannotDeleteOrUpdateEnabledEntitlement): "isEnabled": false in directory.json, deploy, then remove.
    scope = {"functions": entra["functions"]}
    scopes = [
        {"id": "1", "value": "a", "adminConsentDisplayName": "A"},
        {"id": "2", "value": "b", "adminConsentDisplayName": "B", "isEnabled": False},
    ]
    defined = evaluate(
        {"function": {"type": "scopeDefinitions", "parameters": {"arg_1": "scopes"}}}, {**scope, "scopes": scopes}
    )
    assert [s["isEnabled"] for s in defined] == [True, False]
    roles = [{"id": "3", "value": "r", "displayName": "R", "allowedMemberTypes": ["Application"], "isEnabled": False}]
    defined = evaluate(
        {"function": {"type": "roleDefinitions", "parameters": {"arg_1": "roles"}}}, {**scope, "roles": roles}
    )
    assert [r["isEnabled"] for r in defined] == [False]
    docs = (ROOT / "docs" / "deploy.md").read_text()
    assert '"isEnabled": false' in docs
    assert "CannotDeleteOrUpdateEnabledEntitlement" in docs


def test_sign_in_audience_and_allowed_tenants_reach_the_apps(main, entra) -> None:
    # The API's registration is multi-tenant by default; single-tenant is one parameter away. The apps
    # decide from their settings (never a guess), and serve only the tenants their allow-lists name.
    audience = main["parameters"]["signInAudience"]
    assert audience["default"] == "AzureADMultipleOrgs"
    allowed = next(d["argument"] for d in audience["decorators"] if d["type"] == "allowed")
    assert sorted(allowed) == ["AzureADMultipleOrgs", "AzureADMyOrg"]  # v1 tokens: no personal accounts
    assert main["modules"]["entra"]["config"]["params"]["signInAudience"] == "signInAudience"
    for app in ("apiApp", "proxyApp"):
        assert entra["resources"][app]["config"]["signInAudience"] == "signInAudience"
    api_settings = main["modules"]["apiSettings"]["config"]["params"]["settings"]["function"]["parameters"]["arg_2"]
    assert api_settings["NOTIFICATION_API_SIGN_IN_AUDIENCE"] == "signInAudience"
    assert api_settings["NOTIFICATION_API_ALLOWED_TENANTS"] == "apiAllowedTenants"
    proxy_settings = main["modules"]["proxySettings"]["config"]["params"]["settings"]["function"]["parameters"]["arg_2"]
    assert proxy_settings["OBO_ALLOWED_TENANTS"] == "oboAllowedTenants"
    home = {"tenant()": {"tenantId": TENANT}}
    customers = f"{TENANT},11111111-2222-3333-4444-555555555555"
    cases = [("", "", TENANT, TENANT), (customers, "", customers, customers), (customers, TENANT, customers, TENANT)]
    for allowed_tenants, proxy_tenants, api_list, proxy_list in cases:
        scope: dict[str, Any] = {**home, "allowedTenants": allowed_tenants, "proxyAllowedTenants": proxy_tenants}
        scope["apiAllowedTenants"] = variable(main, "apiAllowedTenants", scope)
        assert scope["apiAllowedTenants"] == api_list  # the home tenant by default, never implicit otherwise
        assert variable(main, "oboAllowedTenants", scope) == proxy_list
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert {"signInAudience", "allowedTenants", "proxyAllowedTenants"} <= set(parameters)  # azd passes them


def test_the_proxy_requests_azure_resource_manager_as_the_user(entra, main) -> None:
    # The support portal calls ARM on behalf of the signed-in user: the proxy's registration requests
    # Windows Azure Service Management's user_impersonation (delegated) and the API's scopes.
    requested = entra["resources"]["proxyApp"]["config"]["requiredResourceAccess"]
    assert "proxyRequestsArm" in json.dumps(requested)
    assert '"operand_1": "apiApp", "operand_2": "appId"' in json.dumps(requested)
    (arm,) = evaluate(
        entra["variables"]["proxyRequestsArm"]["value"],
        {
            "armAppId": entra["variables"]["armAppId"]["value"],
            "armUserImpersonationScopeId": entra["variables"]["armUserImpersonationScopeId"]["value"],
        },
    )
    assert arm == {
        "resourceAppId": "797f4846-ba00-4fd7-ba43-dac1f8f63013",
        # Observed in tenants and Microsoft's scripts, not on a reference page.
        "resourceAccess": [{"id": "41094075-9dad-400e-a0bd-54e686782033", "type": "Scope"}],
    }
    # Where directory.json names it (the local proxy's requests, a first-party app), it agrees.
    for request in DIRECTORY["applications"]["obo-proxy"]["requiredResourceAccess"]:
        if request["resourceAppId"] == arm["resourceAppId"]:
            assert request["resourceAccess"] == arm["resourceAccess"]
    for app in DIRECTORY["applications"].values():
        if app.get("appId") == arm["resourceAppId"]:
            ids = {s["id"] for s in app.get("scopes", []) if s["value"] == "user_impersonation"}
            assert ids == {arm["resourceAccess"][0]["id"]}
    # The portal's settings: this cloud's ARM origin (no hard-coded host) and this subscription.
    proxy_settings = main["modules"]["proxySettings"]["config"]["params"]["settings"]["function"]["parameters"]["arg_2"]
    assert proxy_settings["RESOURCE_MANAGER_URL"] == "resourceManagerUrl"
    assert "subscriptionId" in json.dumps(proxy_settings["PORTAL_SUBSCRIPTION_ID"])
    scope: dict[str, Any] = {"environment()": {"resourceManager": "https://management.azure.com/"}}
    scope["resourceManager"] = variable(main, "resourceManager", scope)
    assert variable(main, "resourceManagerUrl", scope) == "https://management.azure.com"
    scope["resourceManager"] = "https://management.usgovcloudapi.net"
    assert variable(main, "resourceManagerUrl", scope) == "https://management.usgovcloudapi.net"


def test_premium_builds_python_on_zip_deploy(main) -> None:
    # azd zip-deploys to non-Flex plans without a build: the deployment "succeeds", then the host
    # finds no functions / the worker logs ModuleNotFoundError for every requirement (no error from
    # ARM at all). These two settings make Kudu/Oryx install requirements.txt.
    premium_only = evaluate(main["variables"]["premiumOnlySettings"]["value"], {})
    assert premium_only["SCM_DO_BUILD_DURING_DEPLOYMENT"] == "true"
    assert premium_only["ENABLE_ORYX_BUILD"] == "true"
    settings = main["variables"]["hostSettings"]["value"]["function"]["parameters"]
    on_flex = evaluate(settings["arg_2"], {"hosting": "flex", "premiumOnlySettings": premium_only})
    assert "SCM_DO_BUILD_DURING_DEPLOYMENT" not in on_flex
    assert "ENABLE_ORYX_BUILD" not in on_flex


def test_graph_extension_without_the_experimental_flag() -> None:
    # Bicep before 0.36.1 refuses `extension microsoftGraphV1` unless the experimental
    # "extensibility" feature is enabled in bicepconfig.json (an error naming that feature, from
    # `bicep build` or `az deployment`); from 0.36.1 the extension is declared and nothing else.
    config = json.loads((INFRA / "bicepconfig.json").read_text())
    assert "experimentalFeaturesEnabled" not in config
    assert config["extensions"]["microsoftGraphV1"].startswith("br:mcr.microsoft.com/bicep/extensions/microsoftgraph/")
    for path in INFRA.rglob("*.bicep"):
        text = path.read_text()
        assert "import 'microsoftGraph" not in text, path
        assert "provider microsoftGraph" not in text, path
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    assert re.search(r"Bicep[^\n]*0\.36\.1 or newer", deploy), "docs/deploy.md must name Bicep 0.36.1 or newer"


def test_webhook_secret_keeps_its_value_on_a_re_deployment(main) -> None:
    # With `param webhookSecret string = newGuid()`, every deployment wrote a new value (a new secret
    # version): receivers checking signatures with the old value start failing.
    parameter = main["parameters"]["webhookSecret"]
    assert parameter["default"] is None or "newGuid" not in json.dumps(parameter["default"])
    decorators = {d["type"]: d.get("argument") for d in parameter["decorators"]}
    assert "secure" in decorators
    assert decorators["metadata"]["azd"]["type"] == "generate"  # azd makes one per environment and keeps it
    vault = parse("modules/keyvault.bicep")
    secret = vault["resources"]["vault__secret"]["config"]
    condition = json.dumps(secret.get("condition"))
    assert '"empty"' in condition, "write the secret only when a value is given"
    assert '"secretValue"' in condition, "write the secret only when a value is given"


@pytest.mark.parametrize("environment", ["My-Env", "notify1", "a-b-c-d-e-f-", "ABCDEFGHIJKL", "x_y"])
def test_storage_account_name_is_lower_case_letters_and_digits(main, environment: str) -> None:
    # ARM: "AccountNameInvalid: <name> is not a valid storage account name. Storage account name must
    # be between 3 and 24 characters in length and use numbers and lower-case letters only."
    assert main["modules"]["storage"]["config"]["params"]["name"] == "storageAccountName"
    name = variable(main, "storageAccountName", {"environmentName": environment, "suffix": "k3x9qa"})
    assert re.fullmatch(r"[a-z0-9]{3,24}", name), name


@pytest.mark.parametrize("environment", ["My-Env", "notify1", "a--b", "ab-", "-ab", "ABCDEFGHIJKL", "x_y"])
def test_key_vault_name_is_valid_whatever_the_environment_name(main, environment: str) -> None:
    # ARM: "VaultNameNotValid: The vault name '<name>' is invalid. A vault's name must be between 3-24
    # alphanumeric characters. The name must begin with a letter, end with a letter or digit, and not
    # contain consecutive hyphens."
    assert main["modules"]["keyVault"]["config"]["params"]["name"] == "keyVaultName"
    name = variable(main, "keyVaultName", {"environmentName": environment, "suffix": "k3x9qa"})
    assert re.fullmatch(r"[a-z][a-z0-9-]{1,22}[a-z0-9]", name), name
    assert "--" not in name


def test_deploy_docs_say_how_to_purge_the_soft_deleted_vault() -> None:
    # Re-deploying after deleting the group: "A vault with the same name already exists in deleted
    # state. You need to either recover or purge existing key vault." until it is purged.
    section = (ROOT / "docs" / "deploy.md").read_text()
    assert "az keyvault purge" in section
    assert "az keyvault list-deleted" in section


def test_caller_running_as_build_agents_can_read_the_vault(main) -> None:
    # callerUsesBuildAgents=true runs the caller as build-agents (AZURE_CLIENT_ID); Key Vault then
    # answers 403 "Caller is not authorized to perform action on resource ... Action:
    # 'Microsoft.KeyVault/vaults/secrets/getSecret/action'" unless build-agents is a secrets user.
    (vault,) = DIRECTORY["keyVaults"].values()
    readers = vault["secretsUsers"]
    scope = {"secretsUsers": readers}
    assert variable(main, "secretReaderNames", {**scope, "callerUsesBuildAgents": False}) == readers
    assert "build-agents" in variable(main, "secretReaderNames", {**scope, "callerUsesBuildAgents": True})
    roles = json.dumps(main["modules"]["roles"]["config"]["params"]["secretReaderPrincipalIds"])
    assert '"secretReaderNames"' in roles
    assert '"secretsUsers"' not in roles
    caller_settings = json.dumps(main["modules"]["callerSettings"]["config"]["params"]["settings"])
    assert "AZURE_CLIENT_ID" in caller_settings
    assert "callerUsesBuildAgents" in caller_settings


def test_no_lambda_reads_a_loop_variable(entra) -> None:
    # Undecided in review (copyIndex() inside filter()): resource loops look role ids up by key.
    for name in ("managedIdentityRoles", "debugPrincipalRoles"):
        body = json.dumps(entra["resources"][name]["config"])
        assert '"filter"' not in body, name
        assert "lambda" not in body, name
