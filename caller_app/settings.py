"""The caller app's settings, read once when the host loads the app (function_app.py)."""

from __future__ import annotations

from dataclasses import dataclass

from appsettings import flag, optional, required, url


@dataclass(frozen=True)
class CallerSettings:
    client_id: str | None  # AZURE_CLIENT_ID: a user-assigned identity; None: the system-assigned one
    api_url: str  # NOTIFICATION_API_URL, e.g. https://<api app>.azurewebsites.net/api
    api_scope: str  # NOTIFICATION_API_SCOPE, e.g. api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/.default
    key_vault_url: str
    # Checks that the vault's challenge names *.vault.azure.net; only the local emulator needs it off.
    verify_challenge_resource: bool
    webhook_secret_name: str
    delivery_webhook_url: str | None  # DELIVERY_WEBHOOK_URL; None: notifications stay pending

    @classmethod
    def from_env(cls) -> CallerSettings:
        return cls(
            client_id=optional("AZURE_CLIENT_ID") or None,
            api_url=url("NOTIFICATION_API_URL"),
            api_scope=required("NOTIFICATION_API_SCOPE"),
            key_vault_url=url("KEY_VAULT_URL"),
            verify_challenge_resource=flag("KEY_VAULT_VERIFY_CHALLENGE_RESOURCE", default=True),
            webhook_secret_name=required("WEBHOOK_SECRET_NAME"),
            delivery_webhook_url=url("DELIVERY_WEBHOOK_URL", is_required=False) or None,
        )
