"""The emulator's tokens pass the apps' own validator: what the real token endpoint and managed
identity endpoint issue is what the API accepts (the validator's rules are tested in tests/auth)."""

from __future__ import annotations

from azure.identity import ManagedIdentityCredential

from auth import AuthSettings, TokenValidator
from tests.emulator_process import EmulatorProcess


def api_validator(emulator: EmulatorProcess) -> TokenValidator:
    audiences = (emulator.app_id("notification-api"), "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api")
    return TokenValidator(AuthSettings(emulator.tenant, emulator.origin, audiences))


def test_managed_identity_token_validates(emulator: EmulatorProcess) -> None:
    app = api_validator(emulator).validate(
        ManagedIdentityCredential()
        .get_token("api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/.default")
        .token
    )
    assert app.is_app
    assert app.roles == {"notification.read"}


def test_user_token_from_the_token_endpoint_validates(emulator: EmulatorProcess) -> None:
    user = api_validator(emulator).validate(
        emulator.user_token("carol", "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/.default")
    )
    assert user.scopes == {"Notifications.Read", "Notifications.Create"}
    assert user.roles == {"notification.read", "notification.create"}
