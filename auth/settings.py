"""Settings the auth code reads (local.settings.sample.json lists them all), and the guard that
keeps trust in the local emulator out of Azure."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

PUBLIC_CLOUD = "https://login.microsoftonline.com"


@dataclass(frozen=True)
class AuthSettings:
    tenant_id: str
    authority_host: str
    audiences: tuple[str, ...]

    @classmethod
    def from_env(cls, audiences_setting: str) -> AuthSettings:
        """``AZURE_TENANT_ID``, ``AZURE_AUTHORITY_HOST`` and the comma list in ``audiences_setting``."""
        tenant = os.environ.get("AZURE_TENANT_ID", "").strip()
        audiences = tuple(a.strip() for a in os.environ.get(audiences_setting, "").split(",") if a.strip())
        if not tenant or not audiences:
            raise RuntimeError(f"AZURE_TENANT_ID and {audiences_setting} must be set (see local.settings.sample.json)")
        authority = os.environ.get("AZURE_AUTHORITY_HOST", PUBLIC_CLOUD).strip().rstrip("/") or PUBLIC_CLOUD
        return cls(tenant, authority, audiences)


def running_in_azure() -> bool:
    """App Service and Functions set WEBSITE_INSTANCE_ID on every instance; nothing local does."""
    return bool(os.environ.get("WEBSITE_INSTANCE_ID"))


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_environment() -> None:
    """Refuse to start in Azure when any setting would make the app trust the local emulator.

    A token signed by the emulator must never be accepted by a deployed API, and a deployed app
    must never send its managed identity's tokens to a laptop.
    """
    if not running_in_azure():
        return
    # IDENTITY_ENDPOINT is loopback in Azure too (the platform's token service): not checked.
    suspicious = [name for name in ("AZURE_AUTHORITY_HOST", "KEY_VAULT_URL") if is_loopback(os.environ.get(name, ""))]
    if suspicious:
        raise RuntimeError(
            f"running in Azure with loopback settings {suspicious}: they point at the local emulator. "
            "Remove them from the app settings."
        )


def debug_endpoints_enabled() -> bool:
    """Token-inspection routes: on locally unless disabled, off in Azure unless DEBUG_ENDPOINTS=true."""
    value = os.environ.get("DEBUG_ENDPOINTS", "").strip().lower()
    if value:
        return value == "true"
    return not running_in_azure()
