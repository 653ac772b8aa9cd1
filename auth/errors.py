"""Errors of token validation, kept apart so principal.py and validation.py can share them."""

from __future__ import annotations


class TokenError(Exception):
    """The token is not acceptable: 401. ``reason`` goes to the client, ``detail`` only to the log."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail or reason


class TenantNotAllowed(Exception):
    """The token comes from a tenant this app does not serve: 403, whatever roles it carries.

    In a customer's tenant that tenant's admin assigns the roles, so a role from a tenant off the
    allow-list proves nothing. ``tenant_id`` is a GUID (checked before this is raised)."""

    def __init__(self, tenant_id: str) -> None:
        super().__init__(f"tenant {tenant_id} is not served")
        self.tenant_id = tenant_id


class KeysUnavailable(Exception):
    """The tenant's signing keys could not be fetched: our problem, not the caller's (503)."""
