"""Reading app settings (environment variables) once, at start, with errors that name the setting.

Each app turns its settings into one frozen, typed object when the host loads it, so a missing or
malformed value stops the host then, with a message naming it, instead of a 500 at the first
request that needs it. The readers here are the only place that says what "missing" and
"malformed" mean; ``local.settings.sample.json`` lists every setting with a local value.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from .loopback import is_loopback

__all__ = [
    "BLUEPRINTS",
    "SettingError",
    "flag",
    "is_loopback",
    "names",
    "optional",
    "required",
    "running_in_azure",
    "selected_apps",
    "url",
]

BLUEPRINTS = ("notification_api", "caller_app", "obo_proxy")
WHERE = "set it in the app settings (locally: local.settings.json, see local.settings.sample.json)"


class SettingError(ValueError):
    """A required setting is missing, or a setting's value cannot be used. The message names it."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"app setting {name} {problem}; {WHERE}")
        self.name = name


def optional(name: str, default: str = "") -> str:
    """The setting's value without surrounding spaces; ``default`` when absent or blank."""
    return os.environ.get(name, "").strip() or default


def required(name: str) -> str:
    value = optional(name)
    if not value:
        raise SettingError(name, "is not set")
    return value


def names(name: str) -> tuple[str, ...]:
    """A required comma-separated list, e.g. the audiences an API accepts."""
    values = tuple(part.strip() for part in required(name).split(",") if part.strip())
    if not values:
        raise SettingError(name, "lists no values")
    return values


def url(name: str, *, default: str = "", is_required: bool = True) -> str:
    """An absolute http(s) URL without a trailing slash, or ``""`` when optional and absent."""
    value = optional(name, default).rstrip("/")
    if not value:
        if is_required:
            raise SettingError(name, "is not set")
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise SettingError(name, f"is not an absolute http(s) URL: {value!r}")
    return value


def flag(name: str, *, default: bool) -> bool:
    """``true`` or ``false`` (any case); anything else is a mistake worth stopping for."""
    value = optional(name).lower()
    if not value:
        return default
    if value not in ("true", "false"):
        raise SettingError(name, f"must be true or false, not {value!r}")
    return value == "true"


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
        raise SettingError(
            "APPS",
            f"names unknown app(s) {', '.join(unknown)}; use a comma list of {', '.join(BLUEPRINTS)} "
            "(empty for all three)",
        )
    return list(dict.fromkeys(chosen)) or list(BLUEPRINTS)
