"""Settings the auth code reads (local.settings.sample.json lists them all), and the guard that
keeps trust in the local emulator out of Azure."""

from __future__ import annotations

import os
from dataclasses import dataclass

from appsettings import SettingError, is_loopback, names, optional, required, running_in_azure, url

from .key_cache import COOLDOWN_SECONDS, REFRESH_SECONDS

PUBLIC_CLOUD = "https://login.microsoftonline.com"


@dataclass(frozen=True)
class AuthSettings:
    tenant_id: str
    authority_host: str
    audiences: tuple[str, ...]
    # The signing-key cache (key_cache.py): at most one unknown-kid refresh per cooldown per tenant,
    # and a periodic refresh. Defaults are Microsoft's guidance: 5 minutes and 1 hour.
    key_cooldown_seconds: int = COOLDOWN_SECONDS
    key_refresh_seconds: int = REFRESH_SECONDS

    @classmethod
    def from_env(cls, audiences_setting: str) -> AuthSettings:
        """``AZURE_TENANT_ID``, ``AZURE_AUTHORITY_HOST``, the comma list in ``audiences_setting``, and
        ``TOKEN_KEYS_COOLDOWN_SECONDS`` / ``TOKEN_KEYS_REFRESH_SECONDS``."""
        return cls(
            tenant_id=required("AZURE_TENANT_ID"),
            authority_host=url("AZURE_AUTHORITY_HOST", default=PUBLIC_CLOUD),
            audiences=names(audiences_setting),
            key_cooldown_seconds=_seconds("TOKEN_KEYS_COOLDOWN_SECONDS", COOLDOWN_SECONDS),
            key_refresh_seconds=_seconds("TOKEN_KEYS_REFRESH_SECONDS", REFRESH_SECONDS),
        )


def _seconds(name: str, default: int) -> int:
    """A whole number of seconds, 1 to a day; absent means ``default``."""
    value = optional(name)
    if not value:
        return default
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 86400:
        raise SettingError(name, f"must be a whole number of seconds from 1 to 86400, not {value!r}")
    return int(value)


def check_environment() -> None:
    """Refuse to start in Azure when any setting would make the app trust the local emulator.

    A token signed by the emulator must never be accepted by a deployed API, and a deployed app
    must never send its managed identity's tokens to a laptop.
    """
    if not running_in_azure():
        return
    # IDENTITY_ENDPOINT is loopback in Azure too (the platform's token service): not checked.
    suspicious = [name for name in ("AZURE_AUTHORITY_HOST", "KEY_VAULT_URL") if is_loopback(optional(name))]
    if suspicious:
        raise SettingError(
            ", ".join(suspicious),
            "points at the local emulator while running in Azure; remove it from the app settings",
        )


def debug_endpoints_enabled() -> bool:
    """Token-inspection routes: on locally unless disabled, off in Azure unless DEBUG_ENDPOINTS=true."""
    value = os.environ.get("DEBUG_ENDPOINTS", "").strip().lower()
    if value:
        return value == "true"
    return not running_in_azure()
