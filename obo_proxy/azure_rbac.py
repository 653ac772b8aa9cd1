"""Reading Azure RBAC answers: may this user do an action, and which built-in role would let them.

ARM decides every call itself; the portal only reads what ARM says, to draw a button or to explain a
refusal. ``GET {scope}/providers/Microsoft.Authorization/permissions`` lists, per role assignment that
applies at the scope, ``actions`` and ``notActions``; an action is allowed when one entry matches it
in ``actions`` and not in that same entry's ``notActions`` ("NotActions is not a deny": another entry
may still allow it). Action patterns use ``*`` as the only wildcard and ignore case.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache

# The built-in roles a support team is given for function apps, with their real ids (the same in
# every cloud) and the parts of their action lists that matter here, narrowest first.
BUILTIN_ROLES: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("Reader", "acdd72a7-3385-48ef-bd42-f606fba81ae7", ("*/read",), ()),
    ("Website Contributor", "de139f84-1756-47ae-9be6-808fbbe84772", ("Microsoft.Web/sites/*",), ()),
    (
        "Contributor",
        "b24988ac-6180-42a0-ab88-20f7382dd24c",
        ("*",),
        ("Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write"),
    ),
)


@cache
def _pattern(action_pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in action_pattern.split("*")), re.IGNORECASE)


def matches(action_pattern: str, action: str) -> bool:
    return _pattern(action_pattern).fullmatch(action) is not None


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def allows(permissions: Iterable[Mapping[str, object]], action: str) -> bool:
    """Whether ARM's permission entries allow ``action``."""
    for entry in permissions:
        if any(matches(p, action) for p in _strings(entry.get("actions"))) and not any(
            matches(p, action) for p in _strings(entry.get("notActions"))
        ):
            return True
    return False


def roles_granting(action: str) -> list[str]:
    """Built-in roles that grant ``action``, narrowest first ("Website Contributor", "Contributor")."""
    return [
        name
        for name, _, actions, not_actions in BUILTIN_ROLES
        if any(matches(p, action) for p in actions) and not any(matches(p, action) for p in not_actions)
    ]
