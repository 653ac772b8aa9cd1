"""Errors of token validation, kept apart so principal.py and validation.py can share them."""

from __future__ import annotations


class TokenError(Exception):
    """The token is not acceptable: 401. ``reason`` goes to the client, ``detail`` only to the log."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail or reason


class KeysUnavailable(Exception):
    """The tenant's signing keys could not be fetched: our problem, not the caller's (503)."""
