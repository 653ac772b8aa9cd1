"""The emulator refuses a directory.json that Entra would refuse: one test per app-model rule.

Each test changes a copy of the seeded file in one way and runs ``python -m emulator serve`` on it
(in this process, through ``main``: the same code path as the command, without a new interpreter
per rule; test_discovery runs one real process). The answer must be exit 2 and one line naming the
app and the offending value.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from emulator.__main__ import main
from tests.emulator_process import DIRECTORY

SEEDED = json.loads(DIRECTORY.read_text())
API_ID = SEEDED["applications"]["notification-api"]["appId"]
PROXY_ID = SEEDED["applications"]["obo-proxy"]["appId"]
OTHER_ID = "0f4a1c52-8b8e-4a8e-9d52-9b0b8f0e1c11"


@pytest.fixture(autouse=True)
def fresh() -> None:
    """These tests start no emulator: override the package's reset-the-emulator fixture."""


def serve(tmp_path: Path, capsys: pytest.CaptureFixture, change: Callable[[dict], None]) -> tuple[int, str]:
    data = copy.deepcopy(SEEDED)
    change(data)
    path = tmp_path / "directory.json"
    path.write_text(json.dumps(data))
    # --system-identity names nobody: a file that passes every check is then refused right after
    # loading (a different message, so the test fails) instead of starting a server that never returns.
    argv = ["--state-dir", str(tmp_path / "state"), "--directory", str(path), "serve", "--port", "0"]
    code = main([*argv, "--system-identity", "no-such-identity"])
    return code, capsys.readouterr().err


def refused(tmp_path: Path, capsys: pytest.CaptureFixture, change: Callable[[dict], None], *needles: str) -> str:
    code, err = serve(tmp_path, capsys, change)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def api(data: dict) -> dict:
    return data["applications"]["notification-api"]


def proxy(data: dict) -> dict:
    return data["applications"]["obo-proxy"]


# -- roles and scopes: one namespace -----------------------------------------------------------


def test_a_role_and_a_scope_sharing_a_value_are_refused(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        api(data)["scopes"][0]["value"] = "notification.read"  # the role's value, another id
        api(data)["preAuthorizedApplications"] = []

    refused(tmp_path, capsys, change, "app notification-api", "'notification.read'", "one namespace")


def test_a_role_and_a_scope_sharing_an_id_are_refused(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        api(data)["scopes"][0]["id"] = api(data)["appRoles"][0]["id"]

    refused(tmp_path, capsys, change, "app notification-api", api(SEEDED)["appRoles"][0]["id"])


def test_one_permission_exposed_as_role_and_scope_with_identical_fields_is_accepted() -> None:
    """Entra's one exception: same id, same value, same texts. The rule must not refuse it.
    (Checked directly: a file that passes would start a server.)"""
    from emulator import app_model
    from emulator.directory import reserved_by_the_tenant

    data = copy.deepcopy(SEEDED)
    role = api(data)["appRoles"][0]
    api(data)["scopes"].append(
        {"id": role["id"], "value": role["value"], "adminConsentDisplayName": role["displayName"]}
    )
    app_model.check(data, reserved=reserved_by_the_tenant())  # no exception
    api(data)["scopes"][-1]["adminConsentDisplayName"] = "Something else"
    with pytest.raises(app_model.AppModelError, match="one namespace"):
        app_model.check(data, reserved=reserved_by_the_tenant())


def test_duplicate_role_ids_are_refused(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        api(data)["appRoles"][1]["id"] = api(data)["appRoles"][0]["id"]

    refused(tmp_path, capsys, change, "app notification-api", "two app roles share the id")


def test_duplicate_role_values_are_refused(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        api(data)["appRoles"][1]["value"] = "notification.read"

    refused(tmp_path, capsys, change, "app notification-api", "two app roles share the value 'notification.read'")


def test_duplicate_scope_ids_are_refused(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        api(data)["scopes"][1]["id"] = api(data)["scopes"][0]["id"]

    refused(tmp_path, capsys, change, "app notification-api", "two scopes share the id")


def test_duplicate_scope_values_are_refused(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        api(data)["scopes"][1]["value"] = "Notifications.Read"

    refused(tmp_path, capsys, change, "app notification-api", "two scopes share the value 'Notifications.Read'")


def test_role_and_scope_ids_must_be_guids(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        api(data)["appRoles"][0]["id"] = "read"

    refused(tmp_path, capsys, change, "app notification-api", "'notification.read'", "not a GUID")


def test_values_with_spaces_are_refused(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        proxy(data)["scopes"][0]["value"] = "access as user"
        proxy(data)["preAuthorizedApplications"] = []

    refused(tmp_path, capsys, change, "app obo-proxy", "'access as user'")


def test_role_member_types_must_be_user_or_application(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        api(data)["appRoles"][0]["allowedMemberTypes"] = ["Robot"]

    refused(tmp_path, capsys, change, "app notification-api", "'notification.read'", "allowedMemberTypes")


# -- App ID URIs and app ids: unique in the tenant, of an accepted form ------------------------


def test_an_app_id_uri_used_by_two_apps_is_refused(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        proxy(data)["identifierUris"].append(
            "API://7812c330-acf6-4d59-acac-aae48e763f41/Notification-API"
        )  # Entra compares case-insensitively

    refused(
        tmp_path,
        capsys,
        change,
        "app obo-proxy",
        "'API://7812c330-acf6-4d59-acac-aae48e763f41/Notification-API'",
        "notification-api",
    )


def test_an_app_id_uri_of_a_microsoft_resource_is_refused(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        proxy(data)["identifierUris"] = ["https://vault.azure.net"]

    refused(tmp_path, capsys, change, "app obo-proxy", "'https://vault.azure.net'", "built in")


@pytest.mark.parametrize("uri", ["notification-api", "http://notification-api", "api://notification-*", "api://"])
def test_an_app_id_uri_of_another_form_is_refused(tmp_path, capsys, uri: str) -> None:
    def change(data: dict) -> None:
        api(data)["identifierUris"] = [uri]

    refused(tmp_path, capsys, change, "app notification-api", repr(uri), "accepted form")


def test_an_app_id_shared_by_two_apps_is_refused(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        proxy(data)["appId"] = API_ID

    refused(tmp_path, capsys, change, "app obo-proxy", API_ID)


def test_an_app_id_of_a_first_party_client_is_refused(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        proxy(data)["appId"] = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"

    refused(tmp_path, capsys, change, "app obo-proxy", "Microsoft Azure CLI")


# -- references must name things that exist ----------------------------------------------------


def test_a_pre_authorization_naming_an_unknown_scope_is_refused(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        # The old shared value: after the rename it names no scope.
        api(data)["preAuthorizedApplications"][0]["scopes"] = ["notification.read"]

    refused(tmp_path, capsys, change, "app notification-api", "'notification.read'", "does not expose")


def test_a_pre_authorization_naming_an_unknown_app_is_refused(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        api(data)["preAuthorizedApplications"].append({"appId": OTHER_ID, "scopes": ["Notifications.Read"]})

    refused(tmp_path, capsys, change, "app notification-api", OTHER_ID)


def test_a_client_pre_authorized_twice_is_refused(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        api(data)["preAuthorizedApplications"].append({"appId": PROXY_ID, "scopes": ["Notifications.Read"]})

    refused(tmp_path, capsys, change, "app notification-api", PROXY_ID, "twice")


def test_a_grant_naming_an_unknown_scope_is_refused(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        data["oauth2PermissionGrants"] = [
            {"clientAppId": PROXY_ID, "resource": "notification-api", "scopes": ["notification.create"]}
        ]

    refused(tmp_path, capsys, change, "app notification-api", "'notification.create'", "does not expose")


def test_a_grant_naming_an_unknown_client_is_refused(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        data["oauth2PermissionGrants"] = [
            {"clientAppId": OTHER_ID, "resource": "notification-api", "scopes": ["Notifications.Read"]}
        ]

    refused(tmp_path, capsys, change, "app notification-api", OTHER_ID)


def test_a_grant_naming_an_unknown_resource_is_refused(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        data["oauth2PermissionGrants"] = [{"clientAppId": PROXY_ID, "resource": "notification-apy", "scopes": []}]

    refused(tmp_path, capsys, change, "'notification-apy'")


def test_required_access_naming_an_unknown_permission_is_refused(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        proxy(data)["requiredResourceAccess"][0]["resourceAccess"][0]["id"] = OTHER_ID

    refused(tmp_path, capsys, change, "app obo-proxy", OTHER_ID)


def test_federated_credential_names_duplicated_are_refused(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        proxy(data)["federatedIdentityCredentials"].append(
            {"name": "OBO-proxy-identity", "managedIdentity": "obo-proxy-identity"}
        )

    refused(tmp_path, capsys, change, "app obo-proxy", "'OBO-proxy-identity'")


def test_a_federated_credential_for_a_system_assigned_identity_is_refused(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        proxy(data)["federatedIdentityCredentials"] = [{"name": "caller", "managedIdentity": "caller-app"}]

    refused(tmp_path, capsys, change, "app obo-proxy", "'caller-app'", "user-assigned")


def test_an_assignment_naming_an_unknown_principal_is_refused(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        data["appRoleAssignments"].append(
            {"principal": "mallory", "resource": "notification-api", "role": "notification.read"}
        )

    refused(tmp_path, capsys, change, "app notification-api", "'mallory'")


def test_an_assignment_naming_an_unknown_role_is_refused(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        # A scope's value is not a role: assignments are of roles only.
        data["appRoleAssignments"].append(
            {"principal": "alice", "resource": "notification-api", "role": "Notifications.Read"}
        )

    refused(tmp_path, capsys, change, "app notification-api", "'Notifications.Read'", "does not define")


def test_an_assignment_naming_an_unknown_resource_is_refused(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        data["appRoleAssignments"].append({"principal": "alice", "resource": "billing-api", "role": "read"})

    refused(tmp_path, capsys, change, "'billing-api'")


def test_an_assignment_the_role_does_not_admit_is_refused(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        api(data)["appRoles"][1]["allowedMemberTypes"] = ["User"]  # build-agents is an identity (Application)

    refused(tmp_path, capsys, change, "app notification-api", "'notification.create'", "'build-agents'")


def test_the_seeded_directory_passes_every_rule() -> None:
    from emulator import app_model
    from emulator.directory import reserved_by_the_tenant

    app_model.check(SEEDED, reserved=reserved_by_the_tenant())  # no exception


@pytest.mark.parametrize(
    ("platform", "uri", "needle"),
    [
        ("web", "http://app.contoso.example/signin", "must use https"),
        ("spa", "https://*.contoso.example/", "wildcards"),
        ("web", "https://app.contoso.example/signin#done", "fragment"),
        ("web", "https://user@app.contoso.example/", "user information"),
        ("web", "https://evil.example\\@app.contoso.example/", "'\\\\'"),
        ("web", "https://app.contoso.example/a,b", "','"),
        ("web", "https://app.contoso.example:65536/", "not a port"),
        ("publicClient", "https://app.contoso.example/" + "a" * 250, "256"),
        ("spa", "ftp://app.contoso.example/", "http or https"),
    ],
)
def test_a_redirect_uri_entra_refuses_is_refused(tmp_path, capsys, platform: str, uri: str, needle: str) -> None:
    def change(data: dict) -> None:
        proxy(data)[platform] = {"redirectUris": [uri]}

    refused(tmp_path, capsys, change, "app obo-proxy", needle)


def test_one_redirect_uri_on_two_platforms_is_refused(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        proxy(data)["web"] = {"redirectUris": ["https://app.contoso.example/"]}
        proxy(data)["spa"] = {"redirectUris": ["https://app.contoso.example/"]}

    refused(tmp_path, capsys, change, "app obo-proxy", "registered twice")


def test_redirect_uris_must_be_a_list_of_strings(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        proxy(data)["web"] = {"redirectUris": "https://app.contoso.example/"}

    refused(tmp_path, capsys, change, "app obo-proxy", "web.redirectUris")


# -- multi-tenant apps and the tenants section -------------------------------------------------

HOME_ID = SEEDED["tenant"]["id"]


def test_an_unknown_sign_in_audience_is_refused(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        api(data)["signInAudience"] = "AzureADMultipleTenants"

    refused(tmp_path, capsys, change, "app notification-api", "'AzureADMultipleTenants'")


def test_personal_accounts_need_v2_tokens(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        api(data)["signInAudience"] = "AzureADandPersonalMicrosoftAccount"  # the API asks for v1 tokens

    refused(tmp_path, capsys, change, "app notification-api", "requestedAccessTokenVersion 2")


@pytest.mark.parametrize(
    "uri",
    [
        "api://notification-api",  # the old local form: anyone's, so no tenant may claim it
        "api://0f4a1c52-8b8e-4a8e-9d52-9b0b8f0e1c11/notification-api",  # another tenant's id
        f"api://{API_ID}/notification-api",  # the app id with a path is not one of the forms
        "https://notifications.fabrikam.example/api",  # not a verified domain of the home tenant
        "https://contoso.onmicrosoft.com.evil.example/api",  # the domain as a prefix only
    ],
)
def test_a_multi_tenant_app_id_uri_must_be_one_no_other_tenant_can_claim(tmp_path, capsys, uri: str) -> None:
    def change(data: dict) -> None:
        api(data)["identifierUris"] = [uri]

    refused(tmp_path, capsys, change, "app notification-api", repr(uri), "multi-tenant")


def test_multi_tenant_app_id_uri_forms_entra_accepts() -> None:
    from emulator import app_model
    from emulator.directory import reserved_by_the_tenant

    for uri in (
        f"api://{API_ID}",
        f"API://{HOME_ID.upper()}/Notification-API",
        f"api://notifications/{API_ID}",
        "https://contoso.onmicrosoft.com/notification-api",
        "https://api.contoso.onmicrosoft.com",
    ):
        data = copy.deepcopy(SEEDED)
        api(data)["identifierUris"] = [uri]
        app_model.check(data, reserved=reserved_by_the_tenant())  # no exception
    # A single-tenant app keeps the older freedom (tenant policy permitting).
    data = copy.deepcopy(SEEDED)
    api(data)["signInAudience"] = "AzureADMyOrg"
    api(data)["identifierUris"] = ["api://notification-api"]
    app_model.check(data, reserved=reserved_by_the_tenant())


def test_known_client_applications_must_name_an_app(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        api(data)["knownClientApplications"] = [OTHER_ID]

    refused(tmp_path, capsys, change, "app notification-api", "knownClientApplications", OTHER_ID)


def test_a_single_tenant_app_has_no_service_principal_in_another_tenant(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        api(data)["signInAudience"] = "AzureADMyOrg"
        api(data)["identifierUris"] = ["api://notification-api"]

    refused(tmp_path, capsys, change, "tenant fabrikam", "notification-api is single-tenant")


def test_a_customer_assignment_must_fit_the_role(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        api(data)["appRoles"][0]["allowedMemberTypes"] = ["User"]  # notification.read: users only
        data["appRoleAssignments"] = [a for a in data["appRoleAssignments"] if a["principal"] != "caller-app"]
        data["tenants"]["fabrikam"]["appRoleAssignments"].append(
            {"principal": "fabrikam-sync", "resource": "notification-api", "role": "notification.read"}
        )

    refused(tmp_path, capsys, change, "tenant fabrikam", "'fabrikam-sync'", "allowedMemberTypes")


def test_a_customer_assignment_names_the_customers_own_principal(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        data["tenants"]["fabrikam"]["appRoleAssignments"].append(
            {"principal": "alice", "resource": "notification-api", "role": "notification.read"}
        )

    refused(tmp_path, capsys, change, "tenant fabrikam", "'alice'")


def test_an_assignment_needs_the_service_principal_in_that_tenant(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        data["tenants"]["tailspin"]["appRoleAssignments"].append(
            {"principal": "tom", "resource": "notification-api", "role": "notification.read"}
        )

    refused(tmp_path, capsys, change, "tenant tailspin", "consent")


def test_two_tenants_with_one_id_are_refused(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        data["tenants"]["tailspin"]["id"] = data["tenants"]["fabrikam"]["id"]

    refused(tmp_path, capsys, change, "fabrikam", "tailspin", "share the id")


def test_a_name_is_one_principal_across_tenants(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        data["tenants"]["tailspin"]["users"]["alice"] = data["tenants"]["tailspin"]["users"].pop("tom")
        data["tenants"]["tailspin"]["users"]["alice"]["id"] = OTHER_ID
        data["tenants"]["tailspin"]["directoryRoles"] = {}

    refused(tmp_path, capsys, change, "'alice'", "contoso", "tailspin")


def test_only_users_of_the_tenant_are_its_global_administrators(tmp_path, capsys) -> None:
    def change(data: dict) -> None:
        data["tenants"]["tailspin"]["directoryRoles"] = {"Global Administrator": ["tailspin-sync"]}

    refused(tmp_path, capsys, change, "tenant tailspin", "tailspin-sync", "not a user")
    refused(
        tmp_path,
        capsys,
        lambda data: data["tenants"]["tailspin"].update(directoryRoles={"Global Reader": ["tom"]}),
        "tenant tailspin",
        "'Global Reader'",
    )
