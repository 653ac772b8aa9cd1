"""The Azure side of ``directory.json``: subscriptions, resource groups, function apps, Azure role
assignments, and the activity log of what was done to them.

Role assignments here are Azure RBAC (who may do what to a resource), not Entra app roles (what a
token says to an API). They change at run time (admin API, ``python -m emulator role``) and take
effect at the next request: the emulator evaluates RBAC on every call. Azure caches them and can
take up to about 10 minutes to apply a change; a new access token makes it sooner.
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from . import rbac

if TYPE_CHECKING:
    from .directory import Directory, Principal

ACTIVITY_LOG_SIZE = 500
_ASSIGNMENT_IDS = uuid.UUID("0c5f4a3e-9d7b-4b8e-a1f2-6e3d2c1b0a99")  # names of role assignments from the file
SITE_STATES = ("Running", "Stopped")


class AzureResourcesError(ValueError):
    """The Azure part of directory.json, or a role change, names something that does not exist."""


@dataclass
class Site:
    """A ``Microsoft.Web/sites`` resource (a function app when ``kind`` says so)."""

    subscription_id: str
    resource_group: str
    name: str
    kind: str
    location: str
    state: str = "Running"

    @property
    def id(self) -> str:
        group = f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
        return f"{group}/providers/Microsoft.Web/sites/{self.name}"

    def json(self) -> dict:
        """The site as ARM answers it (the fields clients and the portal read; more exist in Azure)."""
        host = f"{self.name}.azurewebsites.net"
        return {
            "id": self.id,
            "name": self.name,
            "type": "Microsoft.Web/sites",
            "kind": self.kind,
            "location": self.location,
            "tags": {},
            "properties": {
                "name": self.name,
                "state": self.state,
                "enabled": True,
                "hostNames": [host],
                "enabledHostNames": [host, f"{self.name}.scm.azurewebsites.net"],
                "defaultHostName": host,
                "resourceGroup": self.resource_group,
                "usageState": "Normal",
                "availabilityState": "Normal",
                "httpsOnly": True,
                "reserved": "linux" in self.kind.split(","),
                "siteConfig": {},
            },
        }


@dataclass(frozen=True)
class ResourceGroup:
    subscription_id: str
    name: str
    location: str

    @property
    def id(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.name}"


@dataclass(frozen=True)
class Subscription:
    id: str
    display_name: str
    tenant_id: str

    @property
    def scope(self) -> str:
        return f"/subscriptions/{self.id}"


@dataclass(frozen=True)
class RoleAssignment:
    name: str  # a GUID, unique in the tenant
    principal: str  # a directory name (user, group, managed identity, application)
    role: rbac.RoleDefinition
    scope: str


@dataclass
class ActivityEvent:
    """One write in the activity log: who (as ARM names the caller), what, on which resource, how it ended."""

    at: datetime
    caller: str  # UPN for users, app id for service principals and managed identities
    caller_object_id: str
    caller_name: str
    operation: str  # the action, e.g. Microsoft.Web/sites/restart/action
    operation_label: str
    resource_id: str
    resource_group: str
    subscription_id: str
    tenant_id: str
    status: str  # Succeeded | Failed
    sub_status: str  # OK | Forbidden | NotFound
    http_status: int
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def json(self) -> dict:
        """The ``Microsoft.Insights/eventtypes/management/values`` shape (azure-mgmt-monitor's EventData)."""
        when = self.at.isoformat().replace("+00:00", "Z")
        ticks = int((self.at - datetime(1, 1, 1, tzinfo=UTC)).total_seconds() * 10_000_000)
        return {
            "authorization": {"action": self.operation, "scope": self.resource_id},
            "caller": self.caller,
            "channels": "Operation",
            "claims": {
                "http://schemas.microsoft.com/identity/claims/objectidentifier": self.caller_object_id,
                "name": self.caller_name,
            },
            "correlationId": self.correlation_id,
            "description": "",
            "eventDataId": self.event_id,
            "eventName": {"value": "EndRequest", "localizedValue": "End request"},
            "category": {"value": "Administrative", "localizedValue": "Administrative"},
            "eventTimestamp": when,
            "id": f"{self.resource_id}/events/{self.event_id}/ticks/{ticks}",
            "level": "Informational" if self.status == "Succeeded" else "Error",
            "operationId": self.correlation_id,
            "operationName": {"value": self.operation, "localizedValue": self.operation_label},
            "resourceGroupName": self.resource_group,
            "resourceProviderName": {"value": "Microsoft.Web", "localizedValue": "Azure Web Sites"},
            "resourceType": {"value": "Microsoft.Web/sites", "localizedValue": "Microsoft.Web/sites"},
            "resourceId": self.resource_id,
            "status": {"value": self.status, "localizedValue": self.status},
            "subStatus": {
                "value": self.sub_status,
                "localizedValue": f"{self.sub_status} (HTTP Status Code: {self.http_status})",
            },  # fmt: skip
            "submissionTimestamp": when,
            "subscriptionId": self.subscription_id,
            "tenantId": self.tenant_id,
        }


class AzureResources:
    """Subscriptions and their resources, the role assignments on them, and the activity log."""

    def __init__(self, data: dict, directory: Directory) -> None:
        self.directory = directory
        self.subscriptions: dict[str, Subscription] = {}  # by id, lower case
        self.resource_groups: dict[tuple[str, str], ResourceGroup] = {}  # (subscription, group) lower case
        self._sites: list[Site] = []
        for entry in data.get("subscriptions", {}).values():
            self._load_subscription(entry)
        self._initial_assignments = [self._checked(a) for a in data.get("roleAssignments", [])]
        self.reset()

    def _load_subscription(self, entry: dict) -> None:
        sub = Subscription(entry["subscriptionId"].lower(), entry.get("displayName", entry["subscriptionId"]),
                           self.directory.tenant_id)  # fmt: skip
        if sub.id in self.subscriptions:
            raise AzureResourcesError(f"subscription {sub.id} is listed twice")
        self.subscriptions[sub.id] = sub
        for group_name, group in entry.get("resourceGroups", {}).items():
            location = group.get("location", "westeurope")
            self.resource_groups[(sub.id, group_name.lower())] = ResourceGroup(sub.id, group_name, location)
            for site_name, site in group.get("sites", {}).items():
                state = site.get("state", "Running")
                if state not in SITE_STATES:
                    raise AzureResourcesError(f"site {site_name}: state must be one of {', '.join(SITE_STATES)}")
                self._sites.append(
                    Site(sub.id, group_name, site_name, site.get("kind", "functionapp,linux"), location, state)
                )
        self._initial_states = {s.id.lower(): s.state for s in self._sites}

    def _checked(self, entry: dict) -> RoleAssignment:
        principal = entry.get("principal", "")
        try:
            self.directory.principal(principal)
            role = rbac.role(entry.get("roleDefinitionId") or entry.get("role") or "")
        except (ValueError, KeyError) as exc:
            raise AzureResourcesError(f"role assignment {entry}: {exc}") from None
        if entry.get("roleName") and entry["roleName"].lower() != role.name.lower():
            raise AzureResourcesError(f"role assignment {entry}: {role.id} is {role.name}, not {entry['roleName']}")
        scope = self.canonical_scope(entry.get("scope", ""))
        name = entry.get("name") or str(uuid.uuid5(_ASSIGNMENT_IDS, f"{principal}|{role.id}|{scope.lower()}"))
        return RoleAssignment(name, principal, role, scope)

    def reset(self) -> None:
        """Back to the file: its role assignments and site states, and an empty activity log."""
        self.assignments: list[RoleAssignment] = list(self._initial_assignments)
        for site in self._sites:
            site.state = self._initial_states.get(site.id.lower(), site.state)
        self.activity: deque[ActivityEvent] = deque(maxlen=ACTIVITY_LOG_SIZE)

    # -- scopes --------------------------------------------------------------------------------

    def canonical_scope(self, scope: str) -> str:
        """A scope that exists here, spelled as ARM spells it: a subscription, a resource group or a site."""
        parts = [p for p in scope.strip().split("/") if p]
        lowered = [p.lower() for p in parts]
        if len(parts) < 2 or lowered[0] != "subscriptions" or lowered[1] not in self.subscriptions:
            raise AzureResourcesError(f"scope {scope!r}: no such subscription here (/subscriptions/<id>[/...])")
        sub = self.subscriptions[lowered[1]]
        if len(parts) == 2:
            return sub.scope
        if len(parts) >= 4 and lowered[2] == "resourcegroups":
            group = self.resource_groups.get((sub.id, lowered[3]))
            if group is None:
                raise AzureResourcesError(f"scope {scope!r}: no resource group {parts[3]!r}")
            if len(parts) == 4:
                return group.id
            if len(parts) == 8 and lowered[4:7] == ["providers", "microsoft.web", "sites"]:
                site = self.site(sub.id, group.name, parts[7])
                if site is not None:
                    return site.id
        raise AzureResourcesError(f"scope {scope!r}: not a subscription, resource group or site here")

    def subscription(self, subscription_id: str) -> Subscription | None:
        return self.subscriptions.get(subscription_id.lower())

    def resource_group(self, subscription_id: str, name: str) -> ResourceGroup | None:
        return self.resource_groups.get((subscription_id.lower(), name.lower()))

    def sites(self, subscription_id: str, resource_group: str | None = None) -> list[Site]:
        return [
            s
            for s in self._sites
            if s.subscription_id == subscription_id.lower()
            and (resource_group is None or s.resource_group.lower() == resource_group.lower())
        ]

    def site(self, subscription_id: str, resource_group: str, name: str) -> Site | None:
        return next((s for s in self.sites(subscription_id, resource_group) if s.name.lower() == name.lower()), None)

    # -- RBAC ----------------------------------------------------------------------------------

    def holders(self, principal: Principal) -> set[str]:
        """The principal and the groups it is in: assignments to a group reach its members."""
        return {principal.name, *self.directory.groups_of(principal)}

    def assignments_of(self, principal: Principal) -> list[RoleAssignment]:
        """Role assignments name principals of the subscriptions' (home) tenant; nobody else holds any."""
        if principal.tenant_id != self.directory.tenant_id:
            return []
        holders = self.holders(principal)
        return [a for a in self.assignments if a.principal in holders]

    def effective(self, principal: Principal, scope: str) -> list[RoleAssignment]:
        """Assignments that apply at ``scope``: at it, or inherited from above."""
        return [a for a in self.assignments_of(principal) if rbac.covers(a.scope, scope)]

    def allowed(self, principal: Principal | None, action: str, scope: str) -> bool:
        return principal is not None and any(a.role.grants(action) for a in self.effective(principal, scope))

    def has_access_within(self, principal: Principal | None, scope: str) -> bool:
        """Whether any assignment of the principal applies at ``scope`` or somewhere below it."""
        if principal is None:
            return False
        return any(rbac.covers(a.scope, scope) or rbac.covers(scope, a.scope) for a in self.assignments_of(principal))

    def assign(self, principal: str, role: str, scope: str) -> tuple[RoleAssignment, bool]:
        """``principal``: a name, object id, client id or UPN (as error messages name principals)."""
        principal = self.directory.home.principal_name(principal)
        entry = self._checked({"principal": principal, "role": role, "scope": scope})
        existing = self._find(entry)
        if existing is not None:
            return existing, False
        self.assignments.append(entry)
        return entry, True

    def remove(self, principal: str, role: str, scope: str) -> tuple[RoleAssignment, bool]:
        principal = self.directory.home.principal_name(principal)
        entry = self._checked({"principal": principal, "role": role, "scope": scope})
        existing = self._find(entry)
        if existing is None:
            return entry, False
        self.assignments.remove(existing)
        return existing, True

    def _find(self, entry: RoleAssignment) -> RoleAssignment | None:
        return next(
            (
                a
                for a in self.assignments
                if a.principal == entry.principal and a.role == entry.role and a.scope.lower() == entry.scope.lower()
            ),
            None,
        )

    def assignment_json(self, assignment: RoleAssignment) -> dict:
        """A role assignment as ARM's ``Microsoft.Authorization/roleAssignments`` (2022-04-01) shows it."""
        principal = self.directory.principal(assignment.principal)
        kinds = {"user": "User", "group": "Group", "managedIdentity": "ServicePrincipal"}
        sub = assignment.scope.split("/")[2]
        return {
            "id": f"{assignment.scope}/providers/Microsoft.Authorization/roleAssignments/{assignment.name}",
            "name": assignment.name,
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {
                "roleDefinitionId": assignment.role.definition_id(sub),
                "roleDefinitionName": assignment.role.name,
                "principalId": principal.object_id,
                "principalName": principal.name,
                "principalType": kinds.get(principal.kind, "ServicePrincipal"),
                "scope": assignment.scope,
            },
        }

    def summary(self) -> dict:
        """What ``GET /admin/role-assignments`` shows: the resources and who holds which role where."""
        return {
            "subscriptions": [
                {"subscriptionId": s.id, "displayName": s.display_name} for s in self.subscriptions.values()
            ],
            "sites": [{"id": s.id, "kind": s.kind, "state": s.state} for s in self._sites],
            "roleAssignments": [self.assignment_json(a) for a in self.assignments],
        }

    # -- activity log --------------------------------------------------------------------------

    def record(self, event: ActivityEvent) -> None:
        self.activity.appendleft(event)
