"""Settings the auth code reads (local.settings.sample.json lists them all), and the guard that
keeps trust in the local emulator out of Azure."""

from __future__ import annotations

import re
from dataclasses import dataclass

from appsettings import all_at_once, flag, invalid, is_loopback, names, optional, required, running_in_azure, url

from .key_cache import COOLDOWN_SECONDS, REFRESH_SECONDS

PUBLIC_CLOUD = "https://login.microsoftonline.com"
SINGLE_TENANT, MULTI_TENANT = "AzureADMyOrg", "AzureADMultipleOrgs"  # Entra's signInAudience values
# A tenant id as Entra writes it in ``tid``: a GUID in lower case. An upper-case spelling of the same
# GUID is refused rather than folded, so one tenant never has two spellings (two storage partitions).
TENANT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_tenant_id(value: object) -> bool:
    return isinstance(value, str) and TENANT_ID.fullmatch(value) is not None


@dataclass(frozen=True)
class AuthSettings:
    """Whose tokens an app accepts. ``tenant_id`` is the home tenant (where the app registration
    lives); ``allowed_tenants`` every tenant served when the registration is multi-tenant, the home
    tenant included (None: single-tenant, the home tenant only)."""

    tenant_id: str
    authority_host: str
    audiences: tuple[str, ...]
    # The signing-key cache (key_cache.py): at most one unknown-kid refresh per cooldown per tenant,
    # and a periodic refresh. Defaults are Microsoft's guidance: 5 minutes and 1 hour.
    key_cooldown_seconds: int = COOLDOWN_SECONDS
    key_refresh_seconds: int = REFRESH_SECONDS
    allowed_tenants: frozenset[str] | None = None

    @property
    def tenants(self) -> frozenset[str]:
        """The tenants whose tokens are trusted at all: nothing implicit beyond this set."""
        return self.allowed_tenants if self.allowed_tenants is not None else frozenset({self.tenant_id})

    @classmethod
    def from_env(
        cls, audiences_setting: str, *, tenants_setting: str | None = None, sign_in_audience_setting: str | None = None
    ) -> AuthSettings:
        """``AZURE_TENANT_ID``, ``AZURE_AUTHORITY_HOST``, the comma list in ``audiences_setting``,
        ``TOKEN_KEYS_COOLDOWN_SECONDS`` / ``TOKEN_KEYS_REFRESH_SECONDS``, and the tenants served.

        With ``sign_in_audience_setting`` (the registration's ``signInAudience``, as Bicep sets it):
        ``AzureADMyOrg`` (the default) serves the home tenant only; ``AzureADMultipleOrgs`` requires
        the allow-list in ``tenants_setting``. Without it, ``tenants_setting`` alone decides: absent,
        the home tenant only; present, exactly the tenants it names.
        """
        home = required("AZURE_TENANT_ID").lower()  # tokens carry tid in lower case
        if home and not is_tenant_id(home):
            home = invalid("AZURE_TENANT_ID", "must be a tenant id (a GUID), not a domain or a name", home)
        audience = optional(sign_in_audience_setting) if sign_in_audience_setting else ""
        if sign_in_audience_setting and audience not in ("", SINGLE_TENANT, MULTI_TENANT):
            problem = f"must be {SINGLE_TENANT} or {MULTI_TENANT}, not {audience!r}"
            audience = invalid(sign_in_audience_setting, problem, "")
        allowed = tenant_ids(tenants_setting) if tenants_setting and optional(tenants_setting) else None
        if audience == MULTI_TENANT and allowed is None:
            invalid(
                f"{tenants_setting}",
                f"is not set, and {sign_in_audience_setting} is {MULTI_TENANT}: list every tenant this API "
                "serves (comma-separated tenant ids, the home tenant included)",
                None,
            )
        if sign_in_audience_setting and audience != MULTI_TENANT and allowed not in (None, frozenset({home})):
            invalid(
                f"{tenants_setting}",
                f"names tenants other than AZURE_TENANT_ID while {sign_in_audience_setting} is {SINGLE_TENANT}: "
                f"set it to {MULTI_TENANT} to serve other tenants",
                None,
            )
        return cls(
            tenant_id=home,
            authority_host=url("AZURE_AUTHORITY_HOST", default=PUBLIC_CLOUD),
            audiences=names(audiences_setting),
            allowed_tenants=allowed,
            key_cooldown_seconds=_seconds("TOKEN_KEYS_COOLDOWN_SECONDS", COOLDOWN_SECONDS),
            key_refresh_seconds=_seconds("TOKEN_KEYS_REFRESH_SECONDS", REFRESH_SECONDS),
        )


def _seconds(name: str, default: int) -> int:
    """A whole number of seconds, 1 to a day; absent means ``default``."""
    value = optional(name)
    if not value:
        return default
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 86400:
        return invalid(name, f"must be a whole number of seconds from 1 to 86400, not {value!r}", default)
    return int(value)


def tenant_ids(name: str) -> frozenset[str]:
    """A comma list of tenant ids (GUIDs; any letter case here, stored in Entra's lower case)."""
    values = [part.strip().lower() for part in required(name).split(",") if part.strip()]
    bad = [value for value in values if not is_tenant_id(value)]
    if bad:
        return invalid(name, f"must list tenant ids (GUIDs), not {', '.join(repr(v) for v in bad)}", frozenset())
    if not values:
        return invalid(name, "lists no tenant ids", frozenset())
    return frozenset(values)


def check_environment() -> None:
    """Read the settings every app shares at start (``DEBUG_ENDPOINTS``), and refuse to start in Azure
    when any setting would make the app trust the local emulator.

    A token signed by the emulator must never be accepted by a deployed API, and a deployed app
    must never send its managed identity's tokens to a laptop.
    """
    debug_endpoints_enabled()  # a malformed value stops the host now, not at the first debug request
    if not running_in_azure():
        return
    # IDENTITY_ENDPOINT is loopback in Azure too (the platform's token service): not checked.
    suspicious = [
        name
        for name in ("AZURE_AUTHORITY_HOST", "KEY_VAULT_URL", "RESOURCE_MANAGER_URL")
        if is_loopback(optional(name))
    ]
    with all_at_once():
        for name in suspicious:
            invalid(name, "points at the local emulator while running in Azure: give it the Azure value", None)


def debug_endpoints_enabled() -> bool:
    """Token-inspection routes: only where ``DEBUG_ENDPOINTS`` is ``true`` (the local stack sets it);
    absent is off, here and in Azure alike; anything but true/false stops the host, naming it."""
    return flag("DEBUG_ENDPOINTS", default=False)
