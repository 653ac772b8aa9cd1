"""The App Service managed identity endpoint, through azure-identity's real credentials."""

from __future__ import annotations

import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

from tests.emulator_process import EmulatorProcess

API = "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/.default"


def test_system_assigned_identity_gets_a_v1_app_token_with_its_role(emulator: EmulatorProcess, verify) -> None:
    token = ManagedIdentityCredential().get_token(API)
    claims = verify(token.token)
    caller = emulator.identity("caller-app")
    assert claims["aud"] == "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api"
    assert claims["iss"] == f"https://sts.windows.net/{emulator.tenant}/"
    assert claims["ver"] == "1.0"
    assert "idtyp" not in claims  # for your API only if it configures the optional claim
    assert claims["appid"] == caller["clientId"]
    assert claims["appidacr"] == "2"
    assert claims["oid"] == claims["sub"] == caller["principalId"]
    assert claims["roles"] == ["notification.read"]
    assert "scp" not in claims
    assert "xms_mirid" not in claims  # Entra sends it for Microsoft's own APIs only
    # Managed identity tokens live about 24 hours.
    assert 23 * 3600 < claims["exp"] - claims["iat"] <= 24 * 3600
    assert abs(token.expires_on - claims["exp"]) <= 1


@pytest.mark.parametrize(
    ("identity", "resource_id_end"),
    [(None, "/Microsoft.Web/sites/caller-app"), ("build-agents", "/userAssignedIdentities/build-agents")],
)
def test_tokens_for_microsoft_apis_name_the_identity_and_its_type(
    emulator: EmulatorProcess, verify, identity: str | None, resource_id_end: str
) -> None:
    """Key Vault (a Microsoft API) gets ``idtyp`` and the identity's ARM id, ``xms_mirid``; your API does not."""
    client_id = emulator.identity(identity)["clientId"] if identity else None
    claims = verify(ManagedIdentityCredential(client_id=client_id).get_token("https://vault.azure.net/.default").token)
    assert claims["idtyp"] == "app"
    assert claims["xms_mirid"].endswith(resource_id_end)


@pytest.mark.parametrize("selector", ["client_id", "object_id", "resource_id"])
def test_user_assigned_identity_by_each_selector(emulator: EmulatorProcess, verify, selector: str) -> None:
    identity = emulator.identity("build-agents")
    value = {
        "client_id": identity["clientId"],
        "object_id": identity["principalId"],
        "resource_id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/local/providers/"
        "Microsoft.ManagedIdentity/userAssignedIdentities/build-agents",
    }[selector]
    credential = (
        ManagedIdentityCredential(client_id=value)
        if selector == "client_id"
        else ManagedIdentityCredential(identity_config={selector: value})
    )
    claims = verify(credential.get_token(API).token)
    assert claims["appid"] == identity["clientId"]
    assert claims["oid"] == identity["principalId"]
    assert claims["roles"] == ["notification.create"]


def test_default_credential_pinned_to_managed_identity(
    emulator: EmulatorProcess, verify, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential")
    claims = verify(DefaultAzureCredential().get_token(API).token)
    assert claims["appid"] == emulator.identity("caller-app")["clientId"]


def test_resource_lookup_is_case_insensitive_and_audience_canonical(verify) -> None:
    claims = verify(
        ManagedIdentityCredential()
        .get_token("API://7812c330-acf6-4d59-acac-aae48e763f41/NOTIFICATION-API/.default")
        .token
    )
    assert claims["aud"] == "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api"


def test_app_id_as_resource_gives_the_guid_audience(emulator: EmulatorProcess, verify) -> None:
    app_id = emulator.app_id("notification-api")
    claims = verify(ManagedIdentityCredential().get_token(f"{app_id}/.default").token)
    assert claims["aud"] == app_id


def test_v2_resource_gets_a_v2_token(emulator: EmulatorProcess, verify) -> None:
    claims = verify(
        ManagedIdentityCredential().get_token("api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/.default").token
    )
    assert claims["ver"] == "2.0"
    assert claims["iss"] == f"{emulator.authority}/v2.0"
    assert claims["aud"] == emulator.app_id("obo-proxy")
    assert claims["azp"] == emulator.identity("caller-app")["clientId"]
    assert "appid" not in claims


def test_unknown_resource_is_aadsts500011() -> None:
    with pytest.raises(ClientAuthenticationError, match="AADSTS500011"):
        ManagedIdentityCredential().get_token("api://no-such-api/.default")


def test_identity_without_assignment_is_refused_where_assignment_is_required() -> None:
    # obo-proxy-identity holds no role on the API, which requires assignment.
    credential = ManagedIdentityCredential(client_id="128eee4f-bbd7-4895-9017-e06bca8f75e2")
    with pytest.raises(ClientAuthenticationError, match="AADSTS501051"):
        credential.get_token(API)


def test_unknown_identity_is_refused() -> None:
    with pytest.raises(ClientAuthenticationError, match="Unable to load the proper Managed Identity"):
        ManagedIdentityCredential(client_id="00000000-1111-2222-3333-444444444444").get_token(API)


def test_protocol_errors_are_clear_and_not_500(emulator: EmulatorProcess) -> None:
    url, header = emulator.env["IDENTITY_ENDPOINT"], {"X-IDENTITY-HEADER": emulator.env["IDENTITY_HEADER"]}
    good = {"api-version": "2019-08-01", "resource": "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api"}
    cases = [
        ({}, good, 401, "X-IDENTITY-HEADER"),
        ({"X-IDENTITY-HEADER": "wrong"}, good, 401, "X-IDENTITY-HEADER"),
        (header, {**good, "api-version": "2017-09-01"}, 400, "api-version"),
        (header, {"api-version": "2019-08-01"}, 400, "resource"),
        (header, {**good, "client_id": "a", "object_id": "b"}, 400, "at most one"),
    ]
    for headers, params, status, text in cases:
        response = emulator.session.get(url, headers=headers, params=params)
        assert response.status_code == status, (params, response.text)
        assert text in response.json()["message"]


def test_token_cache_trap_and_case_change_workaround(emulator: EmulatorProcess, verify) -> None:
    """Azure caches MI tokens ~24 h per exact resource string: a new role is invisible until then."""
    before = ManagedIdentityCredential().get_token(API).token
    assert verify(before)["roles"] == ["notification.read"]
    emulator.admin(
        "POST",
        "assignments",
        json={"principal": "caller-app", "resource": "notification-api", "role": "notification.create"},
    )
    # A new credential (no client-side cache) still gets the endpoint's cached token: no new role.
    again = ManagedIdentityCredential().get_token(API).token
    assert again == before
    assert emulator.stats()["msi:cache_hit"] == 1
    # The workaround: change the letter case of the resource; the cache misses, the role appears.
    fresh = verify(
        ManagedIdentityCredential()
        .get_token("api://7812c330-acf6-4d59-acac-aae48e763f41/Notification-API/.default")
        .token
    )
    assert fresh["roles"] == ["notification.create", "notification.read"]
    assert fresh["aud"] == "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api"  # the API still accepts it


def test_cache_off_shows_new_roles_at_once(variant: EmulatorProcess, verify, monkeypatch) -> None:
    variant.activate(monkeypatch)
    variant.reset()
    first = jwt.decode(ManagedIdentityCredential().get_token(API).token, options={"verify_signature": False})
    variant.admin(
        "POST",
        "assignments",
        json={"principal": "caller-app", "resource": "notification-api", "role": "notification.create"},
    )
    second = jwt.decode(ManagedIdentityCredential().get_token(API).token, options={"verify_signature": False})
    assert first["roles"] == ["notification.read"]
    assert second["roles"] == ["notification.create", "notification.read"]


def test_group_roles_do_not_reach_a_managed_identity(variant: EmulatorProcess, monkeypatch) -> None:
    """build-agents is a member of notification-admins in the variant, with no direct assignment."""
    variant.activate(monkeypatch)
    variant.reset()
    with pytest.raises(ClientAuthenticationError, match="AADSTS501051"):
        ManagedIdentityCredential(client_id=variant.identity("build-agents")["clientId"]).get_token(API)
    # ... while carol, a user in the same group, holds both roles through it.
    claims = jwt.decode(variant.user_token("carol", API), options={"verify_signature": False})
    assert claims["roles"] == ["notification.create", "notification.read"]
