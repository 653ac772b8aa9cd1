"""infra/, offline: every Bicep file parses (pycep-parser), and the properties that matter hold.

No Bicep CLI can be installed here, so these tests read the parsed templates. A parse failure
fails the test: nothing is skipped silently.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from pycep import BicepParser

from tests.processes import ROOT

INFRA = ROOT / "infra"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))
DIRECTORY = json.loads((ROOT / "directory.json").read_text())
ROLE_IDS = {  # documented built-in role definition ids
    "storageBlobDataOwnerRoleId": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "storageQueueDataContributorRoleId": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "storageTableDataContributorRoleId": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "keyVaultSecretsUserRoleId": "4633458b-17de-408a-b874-0445c86b69e6",
    "monitoringMetricsPublisherRoleId": "3913510d-42f4-4e42-8a64-420c390055eb",
}


def parse(path: Path) -> dict[str, Any]:
    """pycep's tree, walked by key below: its TypedDicts describe the shape but not every key we read."""
    return cast(dict[str, Any], BicepParser().parse(file_path=path))


def body(resource: dict) -> dict:
    """A resource's properties, under pycep's wrapper for conditions and loops."""
    config = resource["config"]
    return config["config"] if "loop_type" in config or "condition" in config and "config" in config else config


@pytest.fixture(scope="module")
def templates() -> dict[str, dict]:
    return {p.relative_to(INFRA).as_posix(): parse(p) for p in BICEP_FILES}


def literal_strings(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in literal_strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in literal_strings(v)]
    return []


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_every_bicep_file_parses(path: Path) -> None:
    parsed = parse(path)  # raises on a syntax error
    assert parsed.get("resources") or parsed.get("modules"), f"{path} declares nothing"


def test_every_module_exists(templates) -> None:
    for module in templates["main.bicep"]["modules"].values():
        assert (INFRA / module["detail"]["path"]).exists(), module["detail"]["path"]


def test_function_apps_have_an_identity_and_https_only(templates) -> None:
    resources = templates["modules/functionapp.bicep"]["resources"]
    for name in ("site", "site__staging"):
        config = body(resources[name])
        assert config["properties"]["httpsOnly"] is True, name
        assert config["identity"] == "identity", name  # the var built from systemAssigned / user-assigned
    apps = [m for m in templates["main.bicep"]["modules"].values() if m["detail"]["path"].endswith("functionapp.bicep")]
    assert len(apps) == 3
    for app in apps:
        params = app["config"]["params"]
        assert params["systemAssigned"] is True or params.get("userAssignedIdentityIds"), params["name"]


def test_storage_refuses_shared_keys_and_old_tls(templates) -> None:
    account = templates["modules/storage.bicep"]["resources"]["account"]["config"]["properties"]
    assert account["allowSharedKeyAccess"] is False
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["allowBlobPublicAccess"] is False


def test_key_vault_uses_rbac(templates) -> None:
    vault = templates["modules/keyvault.bicep"]["resources"]["vault"]["config"]["properties"]
    assert vault["enableRbacAuthorization"] is True
    secret_param = templates["modules/keyvault.bicep"]["parameters"]["secretValue"]
    assert "secure" in [d["type"] for d in secret_param["decorators"]]
    main = templates["main.bicep"]["parameters"]["webhookSecret"]
    assert "secure" in [d["type"] for d in main["decorators"]]


def test_application_insights_needs_entra_auth(templates) -> None:
    insights = templates["modules/monitoring.bicep"]["resources"]["insights"]["config"]["properties"]
    assert insights["DisableLocalAuth"] is True


def test_role_ids_are_the_documented_ones(templates) -> None:
    variables = templates["modules/roles.bicep"]["variables"]
    assert {k: v["value"] for k, v in variables.items() if k.endswith("RoleId")} == ROLE_IDS
    for name, resource in templates["modules/roles.bicep"]["resources"].items():
        if resource["type"] == "Microsoft.Authorization/roleAssignments":
            naming = json.dumps(body(resource)["name"])
            assert '"guid"' in naming, f"{name}: the name must be guid(scope, principal, role)"


# Azure's built-in roles that manage resources (control plane): none of our identities holds one.
MANAGEMENT_ROLE_IDS = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",  # Owner
    "b24988ac-6180-42a0-ab88-20f7382dd24c",  # Contributor
    "acdd72a7-3385-48ef-bd42-f606fba81ae7",  # Reader
    "de139f84-1756-47ae-9be6-808fbbe84772",  # Website Contributor
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",  # User Access Administrator
}


def test_the_proxy_identity_holds_no_azure_role(templates) -> None:
    """The portal acts with the signed-in user's Azure RBAC only: its own identity can read nothing.

    It holds the data roles its Functions host needs on its own storage account and Application
    Insights, scoped to those resources, and no role that reads or changes Azure resources.
    """
    text = "".join(p.read_text() for p in BICEP_FILES)
    assert not [role for role in MANAGEMENT_ROLE_IDS if role in text]
    assignments = {
        (path, name): resource
        for path, template in templates.items()
        for name, resource in template.get("resources", {}).items()
        if resource["type"] == "Microsoft.Authorization/roleAssignments"
    }
    assert {path for path, _ in assignments} == {"modules/roles.bicep"}  # nowhere else
    scopes = {body(resource)["scope"] for resource in assignments.values()}
    assert scopes == {"storage", "vault", "insights"}  # resources, never the group or subscription
    roles = templates["main.bicep"]["modules"]["roles"]["config"]["params"]
    obo = '"operand_1": "oboIdentity", "operand_2": "principalId"'
    assert obo in json.dumps(roles["hostPrincipalIds"])
    assert obo not in json.dumps(roles["tablePrincipalIds"])
    assert "obo-proxy-identity" not in next(iter(DIRECTORY["keyVaults"].values()))["secretsUsers"]
    host_roles = {
        body(r)["properties"]["roleDefinitionId"]["function"]["parameters"]["resource_name_1"]
        for (_, name), r in assignments.items()
        if '"hostPrincipalIds"' in json.dumps(r["config"])
    }
    assert host_roles == {
        "storageBlobDataOwnerRoleId",
        "storageQueueDataContributorRoleId",
        "monitoringMetricsPublisherRoleId",
    }


def test_no_app_setting_holds_a_key_or_connection_string(templates) -> None:
    text = (INFRA / "main.bicep").read_text()
    for forbidden in (
        "AccountKey",
        "SharedAccessSignature",
        "DefaultEndpointsProtocol",
        "UseDevelopmentStorage",
        "listKeys",
        "CLIENT_SECRET",
        "password",
    ):
        assert forbidden not in text, forbidden
    settings = "\n".join(literal_strings(templates["main.bicep"]["variables"]["hostSettings"]))
    assert "managedidentity" in settings
    main_text = json.dumps(templates["main.bicep"])
    for identity_based in (
        "AzureWebJobsStorage__credential",
        "AzureWebJobsStorage__blobServiceUri",
        "NotificationStorage__tableServiceUri",
        "OBO_MANAGED_IDENTITY_CLIENT_ID",
    ):
        assert identity_based in main_text, identity_based
    assert '"AzureWebJobsStorage"' not in main_text
    assert '"NotificationStorage"' not in main_text


def test_federated_credential_trusts_the_proxy_identity(templates) -> None:
    entra = templates["modules/entra.bicep"]
    credential = entra["resources"]["proxyApp__oboIdentityCredential"]["config"]
    assert credential["audiences"] == ["tokenExchangeAudience"]
    assert entra["variables"]["tokenExchangeAudience"]["value"] == "api://AzureADTokenExchange"
    assert credential["subject"] == "oboIdentityPrincipalId"
    assert credential["name"].startswith("${proxyUniqueName}/")  # Graph children: '<app uniqueName>/<name>'
    assert "/v2.0" in credential["issuer"]
    # ... and the proxy app runs as that same user-assigned identity, with no system identity.
    proxy = templates["main.bicep"]["modules"]["proxyApp"]["config"]["params"]
    assert proxy["systemAssigned"] is False
    first_identity = '{"type": "index_accessor", "operands": {"operand_1": "identities", "operand_2": 0}}'
    assert first_identity in json.dumps(proxy["userAssignedIdentityIds"])
    assert first_identity in json.dumps(templates["main.bicep"]["variables"]["oboIdentity"])  # the FIC's subject
    names = templates["main.bicep"]["modules"]["identities"]["config"]["params"]["names"]
    assert names[0].startswith("obo-proxy-identity")
    assert (
        DIRECTORY["applications"]["obo-proxy"]["federatedIdentityCredentials"][0]["managedIdentity"]
        == "obo-proxy-identity"
    )
    assert DIRECTORY["managedIdentities"]["obo-proxy-identity"]["type"] == "UserAssigned"


def test_entra_reads_roles_scopes_and_assignments_from_directory_json(templates) -> None:
    entra = templates["modules/entra.bicep"]
    for variable, path in (("applications", "$.applications"), ("appRoleAssignments", "$.appRoleAssignments")):
        load = entra["variables"][variable]["value"]["function"]
        assert load["type"] == "load_json_content"
        assert load["parameters"]["json_path"] == path
        assert (INFRA / "modules" / load["parameters"]["file_path"]).resolve() == ROOT / "directory.json"
    text = (INFRA / "modules" / "entra.bicep").read_text()
    # No role or scope id is typed into the template: they all come from the file.
    deployed = [DIRECTORY["applications"][name] for name in ("notification-api", "obo-proxy")]
    ids = {r["id"] for app in deployed for r in app["appRoles"] + app["scopes"]}
    assert not [i for i in ids if i in text]
    for app in ("apiApp", "proxyApp"):
        config = json.dumps(entra["resources"][app]["config"])
        assert "roleDefinitions" in config
        assert "scopeDefinitions" in config
        assert "requestedAccessTokenVersion" in config
    for sp in ("apiServicePrincipal", "proxyServicePrincipal"):
        assert "appRoleAssignmentRequired" in json.dumps(entra["resources"][sp]["config"])
    assert entra["resources"]["managedIdentityRoles"]["type"] == "Microsoft.Graph/appRoleAssignedTo"


def test_directory_assignments_deployable_to_managed_identities(templates) -> None:
    """Every assignment to a managed identity names a role that exists and admits applications."""
    mapped = {key.strip("'") for key in templates["main.bicep"]["variables"]["principalIdByName"]["value"]}
    for assignment in DIRECTORY["appRoleAssignments"]:
        if assignment["principal"] not in DIRECTORY["managedIdentities"]:
            continue  # users and groups are local; in Azure, pass debugPrincipalId
        assert assignment["principal"] in mapped, assignment
        role = next(
            r for r in DIRECTORY["applications"][assignment["resource"]]["appRoles"] if r["value"] == assignment["role"]
        )
        assert "Application" in role["allowedMemberTypes"]
    for reader in next(iter(DIRECTORY["keyVaults"].values()))["secretsUsers"]:
        assert reader in mapped, f"secretsUsers {reader} has no Azure identity in main.bicep"


def test_azure_yaml_services_match_apps_and_tags(templates, app_settings) -> None:
    from function_app import BLUEPRINTS

    services = yaml.safe_load((ROOT / "azure.yaml").read_text())["services"]
    apps = templates["main.bicep"]["variables"]["functionApps"]["value"]
    assert {a["service"] for a in apps.values()} == set(services)
    assert sorted(a["blueprint"] for a in apps.values()) == sorted(BLUEPRINTS)
    for service in services.values():
        assert service == {"project": ".", "language": "python", "host": "function"}
    tags = json.dumps(templates["modules/functionapp.bicep"]["resources"]["site"]["config"]["tags"])
    assert "azd-service-name" in tags
    assert "serviceName" in tags
    main_text = (INFRA / "main.bicep").read_text()
    for app in apps.values():
        assert re.search(r"APPS: functionApps\.\w+\.blueprint", main_text)
        assert app["blueprint"] in BLUEPRINTS


def test_runtime_is_python_312_on_flex_by_default(templates) -> None:
    assert templates["main.bicep"]["parameters"]["hosting"]["default"] == "flex"
    assert templates["modules/functionapp.bicep"]["parameters"]["pythonVersion"]["default"] == "3.12"
    plan = json.dumps(templates["modules/plan.bicep"]["resources"]["plan"]["config"]["sku"])
    assert "FC1" in plan
    assert "FlexConsumption" in plan


def test_bicepconfig_declares_the_graph_extension() -> None:
    config = json.loads((INFRA / "bicepconfig.json").read_text())
    registry = "br:mcr.microsoft.com/bicep/extensions/microsoftgraph/v1.0:"
    assert config["extensions"]["microsoftGraphV1"].startswith(registry)


def test_package_leaves_out_dev_tools_and_local_secrets(tmp_path) -> None:
    from infra.package import package

    files = package(ROOT, tmp_path / "app.zip")
    tops = {f.split("/")[0] for f in files}
    assert {
        "function_app.py",
        "host.json",
        "requirements.txt",
        "appsettings",
        "auth",
        "outbound",
        "notification_api",
        "caller_app",
        "obo_proxy",
    } <= tops
    assert not tops & {
        "emulator",
        "localdev",
        "tests",
        "bench",
        "infra",
        "directory.json",
        "local.settings.json",
        "local.settings.sample.json",
        ".venv",
        "node_modules",
        ".emulator",
        ".azurite",
    }
    with zipfile.ZipFile(tmp_path / "app.zip") as archive:
        assert "function_app.py" in archive.namelist()


def test_package_leaves_out_azd_environments_venvs_and_local_secrets(tmp_path) -> None:
    """A working tree after `azd up` and a local run: none of what it leaves behind may ship."""
    from infra.package import package

    tree = tmp_path / "tree"
    shipped = {
        "function_app.py": "",
        "host.json": "{}",
        "requirements.txt": "",
        "auth/__init__.py": "",
        "notification_api/routes.py": "",
    }
    local = {
        ".azure/notify1/.env": 'WEBHOOK_SECRET="generated"',  # azd's environment
        ".azure/notify1/config.json": '{"infra": {"parameters": {"webhookSecret": "generated"}}}',
        ".azure/config.json": "{}",
        "functions-s2s-auth_env/lib/python3.12/site-packages/x.py": "",  # azd's packaging venv
        "notification_api/.venv/bin/python": "",
        ".env": "SECRET=1",
        ".env.local": "SECRET=1",
        "local.settings.json": '{"Values": {}}',
        "obo_proxy/local.settings.json": '{"Values": {}}',
        "certs/server.pem": "-----BEGIN PRIVATE KEY-----",
        "auth/signing.key": "key",
        "auth/__pycache__/x.cpython-312.pyc": "",
    }
    for name, text in {**shipped, **local}.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(text)
    (tree / ".funcignore").write_text((ROOT / ".funcignore").read_text())
    files = set(package(tree, tmp_path / "app.zip"))
    assert files == {*shipped, ".funcignore"}
    with zipfile.ZipFile(tmp_path / "app.zip") as archive:
        assert set(archive.namelist()) == files
    # azd reads .funcignore instead of its own defaults (.azure, <name>_env): the file must say it.
    patterns = (ROOT / ".funcignore").read_text().splitlines()
    assert {".azure", "*_env", "local.settings.json", ".env"} <= set(patterns)


def test_local_fixtures_never_reach_a_template() -> None:
    """directory.json holds local passwords and a local secret value: every load picks a safe part."""
    loads = re.findall(r"loadJsonContent\('([^']+)'(?:,\s*'([^']*)')?\)", "".join(p.read_text() for p in BICEP_FILES))
    assert loads, "infra/ reads directory.json"
    safe = {"$.applications", "$.appRoleAssignments", "$.keyVaults.notifications-kv.secretsUsers"}
    for file_path, json_path in loads:
        assert json_path, f"{file_path} loaded whole: its users' passwords would be in the template"
        assert json_path in safe, f"{json_path}: make sure it holds no local password or secret, then allow it"


def test_secret_name_agrees_with_directory_json(templates) -> None:
    (vault,) = DIRECTORY["keyVaults"].values()
    assert list(vault["secrets"]) == [templates["main.bicep"]["parameters"]["webhookSecretName"]["default"]]
    assert (
        json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]["WEBHOOK_SECRET_NAME"]
        == list(vault["secrets"])[0]
    )
