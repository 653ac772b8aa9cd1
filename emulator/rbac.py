"""Azure RBAC as ARM evaluates it: built-in roles with their real ids and actions, scopes that inherit.

A role assignment is (principal, role definition, scope). A request for ``action`` on ``scope`` is
allowed when some assignment of the caller (or of a group the caller is in) sits at that scope or
above it (subscription → resource group → resource) and its role grants the action. A role grants
an action when one of its ``actions`` matches and none of its ``notActions`` does; ``notActions`` is
not a deny: another role may still grant the action ("Actions - NotActions = effective permissions").

Built-in roles have the same ids in every cloud, which is why directory.json names them by id. The
action lists below are the documented ones (AZDOCS built-in roles, general, web and mobile,
privileged), trimmed of nothing that matters to a function app.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class RoleDefinition:
    id: str
    name: str
    description: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...] = ()

    def grants(self, action: str) -> bool:
        return any(matches(p, action) for p in self.actions) and not any(matches(p, action) for p in self.not_actions)

    def definition_id(self, subscription_id: str | None = None) -> str:
        """The role definition's ARM id: tenant-level, or under a subscription (as assignments cite it)."""
        prefix = f"/subscriptions/{subscription_id}" if subscription_id else ""
        return f"{prefix}/providers/Microsoft.Authorization/roleDefinitions/{self.id}"

    def permission(self) -> dict:
        """One entry of ``GET {scope}/providers/Microsoft.Authorization/permissions``."""
        return {"actions": list(self.actions), "notActions": list(self.not_actions), "dataActions": [],
                "notDataActions": []}  # fmt: skip


READER = RoleDefinition(
    "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "Reader",
    "View all resources, but does not allow you to make any changes.",
    ("*/read",),
)
WEBSITE_CONTRIBUTOR = RoleDefinition(
    "de139f84-1756-47ae-9be6-808fbbe84772",
    "Website Contributor",
    "Lets you manage websites (not web plans), but not access to them.",
    (
        "Microsoft.Authorization/*/read",
        "Microsoft.Insights/alertRules/*",
        "Microsoft.Insights/components/*",
        "Microsoft.ResourceHealth/availabilityStatuses/read",
        "Microsoft.Resources/deployments/*",
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        "Microsoft.Support/*",
        "Microsoft.Web/certificates/*",
        "Microsoft.Web/listSitesAssignedToHostName/read",
        "Microsoft.Web/serverFarms/join/action",
        "Microsoft.Web/serverFarms/read",
        "Microsoft.Web/sites/*",
    ),
)
CONTRIBUTOR = RoleDefinition(
    "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "Contributor",
    "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage "
    "assignments in Azure Blueprints, or share image galleries.",
    ("*",),
    (
        "Microsoft.Authorization/*/Delete",
        "Microsoft.Authorization/*/Write",
        "Microsoft.Authorization/elevateAccess/Action",
        "Microsoft.Blueprint/blueprintAssignments/write",
        "Microsoft.Blueprint/blueprintAssignments/delete",
        "Microsoft.Compute/galleries/share/action",
        "Microsoft.Purview/consents/write",
        "Microsoft.Purview/consents/delete",
        "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
        "Microsoft.Subscription/cancel/action",
        "Microsoft.Subscription/enable/action",
    ),
)
OWNER = RoleDefinition(
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "Owner",
    "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
    ("*",),
)
BUILTIN_ROLES = (READER, WEBSITE_CONTRIBUTOR, CONTRIBUTOR, OWNER)


class UnknownRole(ValueError):
    pass


def role(name_or_id: str) -> RoleDefinition:
    """A built-in role by its name (any case) or its id."""
    wanted = name_or_id.strip().lower()
    for definition in BUILTIN_ROLES:
        if wanted in (definition.id, definition.name.lower()):
            return definition
    known = ", ".join(f"{r.name} ({r.id})" for r in BUILTIN_ROLES)
    raise UnknownRole(f"no built-in role {name_or_id!r} here; known: {known}")


@cache
def _pattern(action_pattern: str) -> re.Pattern[str]:
    # Only "*" is special in ARM's action strings; everything else is literal, and case does not matter.
    return re.compile(".*".join(re.escape(part) for part in action_pattern.split("*")), re.IGNORECASE)


def matches(action_pattern: str, action: str) -> bool:
    return _pattern(action_pattern).fullmatch(action) is not None


def covers(assignment_scope: str, scope: str) -> bool:
    """Whether an assignment at ``assignment_scope`` applies at ``scope`` (the same, or below it)."""
    outer, inner = assignment_scope.rstrip("/").lower(), scope.rstrip("/").lower()
    return inner == outer or inner.startswith(outer + "/")


def granting_roles(action: str) -> list[RoleDefinition]:
    """Built-in roles that grant ``action``, the narrowest first (what to tell someone who lacks it)."""
    return [r for r in BUILTIN_ROLES if r.grants(action)]
