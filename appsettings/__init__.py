"""Reading app settings (environment variables) once, at start, with errors that name the setting.

Each app turns its settings into one frozen, typed object when the host loads it, so a missing or
malformed value stops the host then, with a message naming it, instead of a 500 at the first
request that needs it. Inside ``all_at_once()`` (function_app.py reads every app's settings in one)
the readers note each problem and carry on, and the block ends with one ``SettingError`` naming
every missing or malformed setting, so one start shows the whole list to fix. The readers here are
the only place that says what "missing" and "malformed" mean; ``local.settings.sample.json`` lists
every setting with a local value.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TypeVar
from urllib.parse import urlsplit

from .loopback import is_loopback

__all__ = [
    "BLUEPRINTS",
    "SettingError",
    "all_at_once",
    "developer_credentials",
    "flag",
    "invalid",
    "is_loopback",
    "names",
    "optional",
    "required",
    "running_in_azure",
    "selected_apps",
    "url",
]

BLUEPRINTS = ("notification_api", "caller_app", "obo_proxy")
WHERE = "in the app settings (locally: local.settings.json, see local.settings.sample.json)"


class SettingError(ValueError):
    """Settings are missing, or their values cannot be used. The message names each one."""

    def __init__(self, name: str, problem: str, *more: tuple[str, str]) -> None:
        self.problems = [(name, problem), *more]
        lines = [f"app setting {each} {what}" for each, what in self.problems]
        if more:
            listed = "\n  ".join(lines)
            super().__init__(f"{len(lines)} app settings are missing or malformed:\n  {listed}\nset them {WHERE}")
        else:
            super().__init__(f"{lines[0]}; set it {WHERE}")
        self.name = name


T = TypeVar("T")
_noted: ContextVar[list[tuple[str, str]] | None] = ContextVar("appsettings_noted", default=None)


@contextlib.contextmanager
def all_at_once() -> Iterator[None]:
    """Read settings in this block noting every problem; at its end, one ``SettingError`` naming all.
    Inside another such block, the outer one names them."""
    if _noted.get() is not None:
        yield
        return
    noted: list[tuple[str, str]] = []
    token = _noted.set(noted)
    try:
        yield
    finally:
        _noted.reset(token)
    if noted:
        first, *more = dict.fromkeys(noted)  # two apps read AZURE_TENANT_ID: named once
        raise SettingError(*first, *more)


def invalid(name: str, problem: str, instead: T) -> T:
    """Setting ``name`` cannot be used (``problem`` says why): raise, or inside ``all_at_once()`` note
    it and go on with ``instead`` (never used: the block raises at its end)."""
    noted = _noted.get()
    if noted is None:
        raise SettingError(name, problem)
    noted.append((name, problem))
    return instead


def optional(name: str, default: str = "") -> str:
    """The setting's value without surrounding spaces; ``default`` when absent or blank."""
    return os.environ.get(name, "").strip() or default


def required(name: str) -> str:
    return optional(name) or invalid(name, "is not set", "")


def names(name: str) -> tuple[str, ...]:
    """A required comma-separated list, e.g. the audiences an API accepts."""
    value = required(name)
    values = tuple(part.strip() for part in value.split(",") if part.strip())
    if value and not values:
        return invalid(name, "lists no values", ())
    return values


def url(name: str, *, default: str = "", is_required: bool = True) -> str:
    """An absolute http(s) URL without a trailing slash, or ``""`` when optional and absent."""
    value = optional(name, default).rstrip("/")
    if not value:
        return invalid(name, "is not set", "") if is_required else ""
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return invalid(name, f"is not an absolute http(s) URL: {value!r}", "")
    return value


def flag(name: str, *, default: bool) -> bool:
    """``true`` or ``false`` (any case); anything else is a mistake worth stopping for."""
    value = optional(name).lower()
    if not value:
        return default
    if value not in ("true", "false"):
        return invalid(name, f"must be true or false, not {value!r}", default)
    return value == "true"


def developer_credentials() -> bool:
    """``AZURE_TOKEN_CREDENTIALS``: ``dev`` (any case) runs the apps as the signed-in developer
    (azure-identity's developer chain); absent or ``ManagedIdentityCredential``, as the app's managed
    identity. azure-identity accepts other values (``prod``, another credential's name), which the
    apps would not honour: they stop the host instead of meaning managed identity in silence."""
    value = optional("AZURE_TOKEN_CREDENTIALS").lower()
    if value not in ("", "dev", "managedidentitycredential"):
        return invalid(
            "AZURE_TOKEN_CREDENTIALS", f"must be dev or ManagedIdentityCredential (or absent), not {value!r}", False
        )
    return value == "dev"


def running_in_azure() -> bool:
    """App Service and Functions set WEBSITE_INSTANCE_ID on every instance; nothing local does."""
    return bool(os.environ.get("WEBSITE_INSTANCE_ID"))


def selected_apps(value: str | None) -> list[str]:
    """Parse ``APPS``: a comma list of blueprint packages; empty means all of them.

    Here rather than in function_app.py so that tools (localdev) can apply the same rule without
    loading the apps.
    """
    chosen = [name.strip() for name in (value or "").split(",") if name.strip()]
    unknown = [name for name in chosen if name not in BLUEPRINTS]
    if unknown:
        problem = f"names unknown app(s) {', '.join(unknown)}; use a comma list of {', '.join(BLUEPRINTS)} "
        return invalid("APPS", problem + "(empty for all three)", [name for name in BLUEPRINTS if name in chosen])
    return list(dict.fromkeys(chosen)) or list(BLUEPRINTS)
