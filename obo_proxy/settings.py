"""The on-behalf-of proxy's settings, read once when the host loads the app (function_app.py)."""

from __future__ import annotations

from dataclasses import dataclass

from appsettings import invalid, optional, required, url
from auth import AuthSettings


@dataclass(frozen=True)
class ProxySettings:
    auth: AuthSettings  # OBO_ALLOWED_TENANTS (absent: the home tenant), authority and OBO_AUDIENCES
    client_id: str  # OBO_CLIENT_ID: the proxy's app registration, which does the exchange
    api_url: str  # NOTIFICATION_API_URL
    api_scope: str  # NOTIFICATION_API_SCOPE
    # How the proxy proves itself to Entra: a user-assigned identity its registration trusts
    # (federated, no secret), or else a client secret. Exactly one is used.
    managed_identity_client_id: str | None
    client_secret: str | None
    # The support portal: Azure Resource Manager's origin (the emulator locally; the production guard
    # refuses loopback in Azure) and the subscription whose function apps it shows.
    resource_manager_url: str = "https://management.azure.com"
    portal_subscription_id: str = ""

    @classmethod
    def from_env(cls) -> ProxySettings:
        identity = optional("OBO_MANAGED_IDENTITY_CLIENT_ID") or None
        secret = None if identity else optional("OBO_CLIENT_SECRET") or None
        if identity is None and secret is None:
            invalid(
                "OBO_MANAGED_IDENTITY_CLIENT_ID",
                "is not set (a user-assigned identity the app registration trusts; OBO_CLIENT_SECRET is the fallback)",
                None,
            )
        return cls(
            auth=AuthSettings.from_env("OBO_AUDIENCES", tenants_setting="OBO_ALLOWED_TENANTS"),
            client_id=required("OBO_CLIENT_ID"),
            api_url=url("NOTIFICATION_API_URL"),
            api_scope=required("NOTIFICATION_API_SCOPE"),
            managed_identity_client_id=identity,
            client_secret=secret,
            resource_manager_url=url("RESOURCE_MANAGER_URL", default="https://management.azure.com"),
            portal_subscription_id=required("PORTAL_SUBSCRIPTION_ID"),
        )
