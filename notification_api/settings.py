"""The notification API's settings, read once when the host loads the app (function_app.py)."""

from __future__ import annotations

from dataclasses import dataclass

from appsettings import invalid, optional, url
from auth import AuthSettings

STORAGE = "NotificationStorage"  # the Functions naming: a connection string, or __tableServiceUri
STORAGE_URI = "NotificationStorage__tableServiceUri"


@dataclass(frozen=True)
class ApiSettings:
    auth: AuthSettings  # tenants served, authority and NOTIFICATION_API_AUDIENCES
    storage_connection_string: str  # locally Azurite's; "" in Azure
    table_service_uri: str  # in Azure: identity-based, no keys; "" when a connection string is set
    client_id: str | None  # AZURE_CLIENT_ID: a user-assigned identity for storage; None: system-assigned

    @classmethod
    def from_env(cls) -> ApiSettings:
        connection = optional(STORAGE)
        uri = "" if connection else url(STORAGE_URI, is_required=False)
        if not connection and not uri:
            invalid(f"{STORAGE} (or {STORAGE_URI})", "is not set", None)
        return cls(
            auth=AuthSettings.from_env(
                "NOTIFICATION_API_AUDIENCES",
                tenants_setting="NOTIFICATION_API_ALLOWED_TENANTS",
                sign_in_audience_setting="NOTIFICATION_API_SIGN_IN_AUDIENCE",
            ),
            storage_connection_string=connection,
            table_service_uri=uri,
            client_id=optional("AZURE_CLIENT_ID") or None,
        )
