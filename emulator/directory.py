"""The tenants the emulator serves, read from ``directory.json`` (its shape: docs/emulator.md).

The top level of the file is the *home* tenant: the app registrations (one definition of each
API's roles and scopes), the home tenant's users, groups, managed identities and assignments.
``tenants`` holds the others. Each tenant has its own principals, its own Global Administrators,
the enterprise applications (service principals) of our multi-tenant apps that consent created
there, and the app role assignments *its* admins made: a role in a customer tenant is whatever
that tenant's admin granted, which is why APIs keep a tenant allow-list.

Everything the token endpoint decides comes from here: which resource an identifier names,
whether it exists in a tenant, which roles a principal holds there, whether a client has consent,
whether assignment is required. Assignments, grants and consents change at run time (admin API,
consent page); a reset goes back to the file.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from . import app_model
from .azure_resources import AzureResources, AzureResourcesError
from .redirect_uris import PLATFORMS, RedirectUri

# Microsoft's first-party public clients exist in every tenant. Developers sign in through them
# (Azure CLI above all), which is why directory.json pre-authorizes the Azure CLI on our APIs.
FIRST_PARTY_CLIENTS = {
    "04b07795-8ddb-461a-bbee-02f9e1bf7b46": "Microsoft Azure CLI",
    "aebc6443-996d-45c2-90f0-388ff96faa56": "Visual Studio Code",
    "872cd9fa-d31f-45e0-9eab-6e460a02d1f1": "Visual Studio",
    "1950a258-227b-4e31-a9cf-717495945fc2": "Microsoft Azure PowerShell",
}
AZURE_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
# Their redirect URIs, as Microsoft registers them for desktop tools: a loopback listener on any
# port (MSAL's ``http://localhost:<port>``) and the native-client page.
FIRST_PARTY_REDIRECT_URIS = (
    RedirectUri("publicClient", "http://localhost"),
    RedirectUri("publicClient", "https://login.microsoftonline.com/common/oauth2/nativeclient"),
)

# The directory role that may consent for the whole tenant and that assignment-required does not
# apply to ("If the user is a Global Administrator, user assignment requirement will not be applicable").
GLOBAL_ADMINISTRATOR = "Global Administrator"
DIRECTORY_ROLES = {GLOBAL_ADMINISTRATOR}

# Namespace for ids the file does not carry (service principal object ids of our apps).
_LOCAL_IDS = uuid.UUID("5f0c0a52-7a0e-4b55-9d0e-3c1c2a6e9b10")


@dataclass(frozen=True)
class Resource:
    """An API tokens can be issued for, as its app registration defines it (one for all tenants)."""

    name: str
    app_id: str
    display_name: str
    identifier_uris: tuple[str, ...]
    app_roles: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    assignment_required: bool = False  # in the home tenant; other tenants set their own
    token_version: int = 1
    first_party: bool = False
    multi_tenant: bool = False
    # Microsoft Graph's sign-in scopes: users consent to them themselves when they first sign in, and
    # the emulator has no consent prompt, so every client has them. Other APIs need a grant.
    consented_by_everyone: bool = False
    pre_authorized: dict[str, frozenset[str]] = field(default_factory=dict)
    # role value -> the delegated scope with the same display name. Entra keeps roles and scopes
    # apart (distinct values); the pair is what an API asks of a user (scope + role), and only
    # the token inspector uses it, since the emulator does not read the APIs' code.
    role_scopes: dict[str, str] = field(default_factory=dict)

    def audience_for(self, requested: str) -> str:
        """The ``aud`` claim: v2 tokens always carry the app id; v1 the identifier as registered.

        Lookup is case-insensitive (that is what makes the managed-identity cache workaround
        work), but the audience is the registered spelling, so APIs comparing exactly still match.
        """
        if self.token_version == 2 or requested.lower() == self.app_id.lower():
            return self.app_id
        for uri in self.identifier_uris:
            if uri.rstrip("/").lower() == requested.rstrip("/").lower():
                return uri
        return self.app_id


# Resources every tenant has. Key Vault tokens are v1; the token-exchange audience (what a managed
# identity requests to act as a federated credential) is answered with v2 tokens.
BUILTIN_RESOURCES = (
    Resource(
        "Azure Key Vault",
        "cfa8b339-82a2-471a-a3c9-0fc0be7a4093",
        "Azure Key Vault",
        ("https://vault.azure.net",),
        scopes=("user_impersonation",),
        first_party=True,
    ),
    Resource(
        "AzureADTokenExchange",
        "fb60f99c-7a34-4190-8149-302f77469936",
        "AzureADTokenExchange",
        ("api://AzureADTokenExchange",),
        token_version=2,
        first_party=True,
    ),
    # Azure Resource Manager: every `az login` asks for a token for it (and lists tenants and
    # subscriptions with it), for users and managed identities alike. First-party, v1, no assignment.
    Resource(
        "Windows Azure Service Management API",
        "797f4846-ba00-4fd7-ba43-dac1f8f63013",
        "Windows Azure Service Management API",
        ("https://management.core.windows.net/", "https://management.azure.com/"),
        scopes=("user_impersonation",),
        first_party=True,
    ),
    Resource(
        "Microsoft Graph",
        "00000003-0000-0000-c000-000000000000",
        "Microsoft Graph",
        ("https://graph.microsoft.com",),
        scopes=("User.Read",),
        first_party=True,
        consented_by_everyone=True,
    ),
)
# The delegated permission ids of Microsoft's APIs that requiredResourceAccess may name (Entra's own ids),
# so that consent grants them as Entra does: (resource app id, permission id) -> scope value.
MICROSOFT_SCOPE_IDS = {
    ("797f4846-ba00-4fd7-ba43-dac1f8f63013", "41094075-9dad-400e-a0bd-54e686782033"): "user_impersonation",
    ("cfa8b339-82a2-471a-a3c9-0fc0be7a4093", "f53da476-18e3-4152-8e01-aec403e6edc0"): "user_impersonation",
    ("00000003-0000-0000-c000-000000000000", "e1fe6dd8-ba31-4d61-89e7-88639da4683d"): "User.Read",
}
TOKEN_EXCHANGE = BUILTIN_RESOURCES[1]
KEY_VAULT = BUILTIN_RESOURCES[0]
RESOURCE_MANAGER = BUILTIN_RESOURCES[2]
LOCAL_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"


def reserved_by_the_tenant() -> list[app_model.Reserved]:
    """What every tenant already has: Microsoft's resources and first-party clients."""
    return [app_model.Reserved(r.name, r.app_id, r.identifier_uris, r.scopes) for r in BUILTIN_RESOURCES] + [
        app_model.Reserved(name, app_id) for app_id, name in FIRST_PARTY_CLIENTS.items()
    ]


@dataclass(frozen=True)
class Principal:
    """Anything that can hold a role: a user, a group, a managed identity or an app's service principal."""

    kind: str  # "user" | "group" | "managedIdentity" | "application"
    name: str
    object_id: str  # in its tenant: the same app has another service principal id in each tenant
    display_name: str
    app_id: str | None = None  # client id for managed identities and applications
    upn: str | None = None
    password: str | None = None
    mi_type: str | None = None  # "SystemAssigned" | "UserAssigned"
    resource_id: str | None = None  # ARM id of a managed identity (xms_mirid, mi_res_id)
    tenant_id: str = ""


@dataclass(frozen=True)
class RequiredAccess:
    """One API an app asks permissions of (``requiredResourceAccess``): what consent grants."""

    resource: str  # application name in the file
    scopes: tuple[str, ...]  # delegated (type Scope), by value
    roles: tuple[str, ...]  # application permissions (type Role), by value


@dataclass(frozen=True)
class Application:
    """An app registration (home tenant) that can act as a confidential client."""

    name: str
    app_id: str
    display_name: str
    identifier_uris: tuple[str, ...]
    federated_identities: tuple[str, ...]  # managed identity names trusted as client assertions
    redirect_uris: tuple[RedirectUri, ...] = ()  # web, spa and publicClient, as registered
    sign_in_audience: str = "AzureADMyOrg"
    known_clients: frozenset[str] = frozenset()  # knownClientApplications, lower-case app ids
    required_access: tuple[RequiredAccess, ...] = ()

    @property
    def multi_tenant(self) -> bool:
        return self.sign_in_audience != "AzureADMyOrg"


class DirectoryError(ValueError):
    """directory.json is inconsistent (a name that resolves to nothing, a role that does not exist)."""


class Tenant:
    """One tenant: its principals, its Global Administrators, the service principals of our apps
    that exist in it, and the assignments and consent grants made in it."""

    def __init__(self, directory: Directory, name: str, data: dict, *, home: bool) -> None:
        self.directory = directory
        self.name = name
        self.home = home
        self.tenant_id: str = str(data["id"])
        self.domain: str = data.get("domain", "")
        self.display_name: str = data.get("displayName", name)
        self._principals: dict[str, Principal] = {}
        self.group_members: dict[str, frozenset[str]] = {}  # group name -> member names
        self._load_principals(data)
        self.admins = self._load_directory_roles(data.get("directoryRoles", {}))
        # app name -> (service principal object id, appRoleAssignmentRequired)
        self._initial_service_principals = self._load_service_principals(data, home)
        self.service_principals: dict[str, tuple[str, bool]] = dict(self._initial_service_principals)
        self._initial_assignments = [self._checked_assignment(a) for a in data.get("appRoleAssignments", [])]
        self._initial_grants = [self._checked_grant(g) for g in data.get("oauth2PermissionGrants", [])]
        self.reset()

    def __repr__(self) -> str:
        return f"Tenant({self.name}, {self.tenant_id})"

    # -- loading -------------------------------------------------------------------------------

    def _load_principals(self, data: dict) -> None:
        for name, mi in data.get("managedIdentities", {}).items():
            group = (
                f"/subscriptions/{LOCAL_SUBSCRIPTION}/resourcegroups/{'local' if self.home else self.name}/providers"
            )
            if mi.get("type") == "SystemAssigned":
                arm_id = f"{group}/Microsoft.Web/sites/{name}"
            else:
                arm_id = f"{group}/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
            self._add(
                Principal(
                    "managedIdentity",
                    name,
                    mi["principalId"],
                    name,
                    app_id=mi["clientId"],
                    mi_type=mi.get("type", "UserAssigned"),
                    resource_id=mi.get("resourceId", arm_id),
                    tenant_id=self.tenant_id,
                )
            )
        for name, user in data.get("users", {}).items():
            self._add(
                Principal(
                    "user",
                    name,
                    user["id"],
                    user.get("displayName", name),
                    upn=user["userPrincipalName"],
                    password=user.get("password"),
                    tenant_id=self.tenant_id,
                )
            )
        for name, group in data.get("groups", {}).items():
            self._add(Principal("group", name, group["id"], group.get("displayName", name), tenant_id=self.tenant_id))
            members = frozenset(group.get("members", []))
            for member in members:
                self.principal(member)  # fails early on a typo
            self.group_members[name] = members

    def _load_directory_roles(self, roles: dict) -> frozenset[str]:
        admins: set[str] = set()
        for role, members in roles.items():
            if role not in DIRECTORY_ROLES:
                raise DirectoryError(
                    f"tenant {self.name}: unknown directory role {role!r} (known: {GLOBAL_ADMINISTRATOR})"
                )
            for member in members:
                if self.principal(member).kind != "user":
                    raise DirectoryError(f"tenant {self.name}: {member!r} holds {role} but is not a user")
                admins.add(member)
        return frozenset(admins)

    def _load_service_principals(self, data: dict, home: bool) -> dict[str, tuple[str, bool]]:
        apps = self.directory.raw_applications
        if home:  # the home tenant has a service principal for each of its registrations
            return {
                name: (
                    app.get("servicePrincipalId") or str(uuid.uuid5(_LOCAL_IDS, app["appId"])),
                    bool(app.get("appRoleAssignmentRequired", False)),
                )
                for name, app in apps.items()
            }
        found = {}
        for name, sp in data.get("servicePrincipals", {}).items():
            application = self.directory.applications_by_name.get(name)
            if application is None:
                raise DirectoryError(f"tenant {self.name}: service principal of unknown application {name!r}")
            if not application.multi_tenant:
                # Entra: a single-tenant app has no service principal outside its home tenant (AADSTS700016).
                raise DirectoryError(
                    f"tenant {self.name}: {name} is single-tenant (signInAudience AzureADMyOrg); only "
                    "multi-tenant apps have service principals in other tenants"
                )
            found[name] = (
                str(sp.get("id") or uuid.uuid5(_LOCAL_IDS, f"{self.tenant_id}:{application.app_id}")),
                bool(sp.get("appRoleAssignmentRequired", False)),
            )
        return found

    def _add(self, principal: Principal) -> None:
        if principal.name in self._principals:
            raise DirectoryError(f"the name {principal.name!r} is used twice in tenant {self.name}")
        self._principals[principal.name] = principal

    def _checked_assignment(self, assignment: dict) -> tuple[str, str, str]:
        principal, resource, role = assignment["principal"], assignment["resource"], assignment["role"]
        self.principal(principal)
        if role not in self.directory.resource(resource).app_roles:
            raise DirectoryError(f"{resource} has no app role {role!r}")
        if resource not in self.service_principals:
            raise DirectoryError(f"tenant {self.name} has no service principal of {resource}: consent to it first")
        return principal, resource, role

    def _checked_grant(self, grant: dict) -> tuple[str, str, frozenset[str]]:
        client, resource = grant["clientAppId"].lower(), grant["resource"]
        # Entra consents or pre-authorizes only a client that exists: an app of this tenant or a
        # first-party client (the Azure CLI, Visual Studio...), never an arbitrary GUID.
        if not self.directory.client_exists(client):
            raise DirectoryError(f"no application with appId {grant['clientAppId']!r} in this tenant")
        unknown = set(grant["scopes"]) - set(self.directory.resource(resource).scopes)
        if unknown:
            raise DirectoryError(f"{resource} has no scopes {sorted(unknown)}")
        return client, resource, frozenset(grant["scopes"])

    # -- run-time state ------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to what the file says: service principals, assignments and grants."""
        self.service_principals = dict(self._initial_service_principals)
        self.assignments: set[tuple[str, str, str]] = set(self._initial_assignments)
        self.grants: set[tuple[str, str, frozenset[str]]] = set(self._initial_grants)

    def add_service_principal(self, app: Application) -> bool:
        """Create the enterprise application of ``app`` here (what consent does); False if it exists.

        Entra's default for a service principal created by consent: assignment not required.
        """
        if app.name in self.service_principals:
            return False
        self.service_principals[app.name] = (str(uuid.uuid5(_LOCAL_IDS, f"{self.tenant_id}:{app.app_id}")), False)
        return True

    def principal_name(self, key: str) -> str:
        """The name of the principal ``key`` designates: its name, or (as Azure's tools take them) its
        object id, client id or user principal name, so an error message can name a principal exactly."""
        principals = self.principals
        if key in principals:
            return key
        wanted = key.lower()
        for principal in principals.values():
            if wanted in {principal.object_id.lower(), (principal.app_id or "").lower(), (principal.upn or "").lower()}:
                return principal.name
        return key  # unknown: the check that follows names it

    def assign(self, principal: str, resource: str, role: str) -> bool:
        principal = self.principal_name(principal)
        entry = self._checked_assignment({"principal": principal, "resource": resource, "role": role})
        added = entry not in self.assignments
        self.assignments.add(entry)
        return added

    def unassign(self, principal: str, resource: str, role: str) -> bool:
        entry = (self.principal_name(principal), resource, role)
        removed = entry in self.assignments
        self.assignments.discard(entry)
        return removed

    def grant(self, client_app_id: str, resource: str, scopes: list[str]) -> None:
        if not self.has_service_principal(self.directory.resource(resource)):
            raise DirectoryError(f"tenant {self.name} has no service principal of {resource}: consent to it first")
        self.grants.add(self._checked_grant({"clientAppId": client_app_id, "resource": resource, "scopes": scopes}))

    def revoke(self, client_app_id: str, resource: str) -> bool:
        """Remove every grant of the client on the resource (what deleting an oauth2PermissionGrant does)."""
        name = self.directory.resource(resource).name
        kept = {g for g in self.grants if not (g[0] == client_app_id.lower() and g[1] == name)}
        revoked = kept != self.grants
        self.grants = kept
        return revoked

    # -- lookups -------------------------------------------------------------------------------

    @property
    def principals(self) -> dict[str, Principal]:
        """Users, groups, managed identities and the service principals of our apps in this tenant."""
        found = dict(self._principals)
        for name, (object_id, _) in self.service_principals.items():
            app = self.directory.applications_by_name[name]
            found[name] = Principal(
                "application", name, object_id, app.display_name, app_id=app.app_id, tenant_id=self.tenant_id
            )
        return found

    def principal(self, name: str) -> Principal:
        found = self._principals.get(name) or self.principals.get(name)
        if found is None:
            raise DirectoryError(f"no user, group, identity or application named {name!r} in tenant {self.name}")
        return found

    def find_user(self, login: str) -> Principal | None:
        """By UPN, object id or short name (the short name is a local convenience)."""
        login = login.lower()
        for p in self._principals.values():
            if p.kind == "user" and login in ((p.upn or "").lower(), p.object_id.lower(), p.name.lower()):
                return p
        return None

    def find_by_object_id(self, object_id: str) -> Principal | None:
        return next((p for p in self.principals.values() if p.object_id.lower() == object_id.lower()), None)

    def find_managed_identity(
        self, *, client_id: str = "", object_id: str = "", resource_id: str = ""
    ) -> Principal | None:
        for p in self._principals.values():
            if p.kind != "managedIdentity":
                continue
            if (
                (client_id and (p.app_id or "").lower() == client_id.lower())
                or (object_id and p.object_id.lower() == object_id.lower())
                or (resource_id and (p.resource_id or "").lower() == resource_id.lower())
            ):
                return p
        return None

    def has_service_principal(self, resource: Resource) -> bool:
        """Does the API (or client app) exist here? Microsoft's own resources exist everywhere."""
        return resource.first_party or resource.name in self.service_principals

    def service_principal_of(self, app: Application) -> Principal | None:
        return self.principals.get(app.name) if app.name in self.service_principals else None

    def identifies(self, segment: str) -> bool:
        """The path segment names this tenant (its id or a verified domain), case-insensitively."""
        return segment.lower() in (self.tenant_id.lower(), self.domain.lower())

    # -- decisions -----------------------------------------------------------------------------

    def is_global_administrator(self, principal: Principal) -> bool:
        return principal.kind == "user" and principal.name in self.admins

    def assignment_required(self, resource: Resource) -> bool:
        """``appRoleAssignmentRequired`` of the API's service principal *in this tenant*."""
        return self.service_principals.get(resource.name, ("", False))[1]

    def groups_of(self, principal: Principal) -> list[str]:
        return [group for group, members in self.group_members.items() if principal.name in members]

    def roles(self, principal: Principal, resource: Resource) -> list[str]:
        """App roles the principal holds on the resource, from this tenant's assignments.

        Roles assigned to a group reach its *user* members only: Entra does not pass group
        assignments on to service principals (managed identities included).
        """
        holders = {principal.name}
        if principal.kind == "user":
            holders.update(self.groups_of(principal))
        return sorted({role for who, res, role in self.assignments if who in holders and res == resource.name})

    def is_assigned(self, principal: Principal, resource: Resource) -> bool:
        return bool(self.roles(principal, resource))

    def consented_scopes(self, client_app_id: str, resource: Resource) -> frozenset[str]:
        """Delegated scopes the client may obtain here without asking anyone (pre-authorized or granted).

        Microsoft's own clients (the Azure CLI...) are consented on Microsoft's APIs in every tenant; any
        other app needs a grant for them too (the proxy's Azure Service Management user_impersonation).
        """
        if resource.first_party and (resource.consented_by_everyone or client_app_id.lower() in FIRST_PARTY_CLIENTS):
            return frozenset(resource.scopes)
        scopes = set(self.directory.pre_authorized.get((resource.name, client_app_id.lower()), frozenset()))
        for client, res, granted in self.grants:
            if client == client_app_id.lower() and res == resource.name:
                scopes |= granted
        return frozenset(scopes)

    def summary(self) -> dict:
        return {
            "name": self.name,
            "id": self.tenant_id,
            "domain": self.domain,
            "home": self.home,
            "globalAdministrators": sorted(self.admins),
            "servicePrincipals": [
                {"application": name, "id": object_id, "appRoleAssignmentRequired": required}
                for name, (object_id, required) in sorted(self.service_principals.items())
            ],
            "principals": [
                {"name": p.name, "kind": p.kind, "objectId": p.object_id, "clientId": p.app_id, "upn": p.upn}
                for p in self.principals.values()
            ],
            "appRoleAssignments": [
                {"principal": p, "resource": r, "role": role} for p, r, role in sorted(self.assignments)
            ],
            "oauth2PermissionGrants": [
                {"clientAppId": c, "resource": r, "scopes": sorted(s)} for c, r, s in sorted(self.grants, key=str)
            ],
        }


class Directory:
    """The app registrations (defined once, in the home tenant) and every tenant."""

    def __init__(self, data: dict) -> None:
        try:
            app_model.check(data, reserved=reserved_by_the_tenant())
        except app_model.AppModelError as exc:
            raise DirectoryError(str(exc)) from None
        self.raw_applications: dict[str, dict] = data.get("applications", {})
        self.resources: dict[str, Resource] = {}  # by name
        self.applications: dict[str, Application] = {}  # by app id (lower case)
        self.applications_by_name: dict[str, Application] = {}
        self._load_applications(self.raw_applications)
        home_data = {**data, "id": data["tenant"]["id"], "domain": data["tenant"].get("domain", "")}
        home_name = data["tenant"].get("name", "home")
        self._initial_pre_authorized = {
            (r.name, client): scopes for r in self.resources.values() for client, scopes in r.pre_authorized.items()
        }
        self.pre_authorized: dict[tuple[str, str], frozenset[str]] = dict(self._initial_pre_authorized)
        self.home = Tenant(self, home_name, home_data, home=True)
        self.home.display_name = data["tenant"].get("displayName", home_name)
        self.tenants: dict[str, Tenant] = {home_name: self.home}
        for name, tenant in data.get("tenants", {}).items():
            if name in self.tenants:
                raise DirectoryError(f"the tenant name {name!r} is used twice")
            self.tenants[name] = Tenant(self, name, tenant, home=False)
        self._check_tenants_apart()
        for app in self.applications.values():
            for identity in app.federated_identities:
                if self.home.principal(identity).mi_type != "UserAssigned":
                    raise DirectoryError(f"federated credential {identity}: only user-assigned identities qualify")
        self.vault_name = ""
        self.vault_secrets: dict[str, str] = {}
        self.vault_readers: frozenset[str] = frozenset()
        self._load_vault(data.get("keyVaults", {}))
        try:
            self.azure = AzureResources(data, self)  # subscriptions, resources, Azure RBAC, activity log
        except AzureResourcesError as exc:
            raise DirectoryError(str(exc)) from None

    @classmethod
    def load(cls, path: Path) -> Directory:
        try:
            return cls(json.loads(Path(path).read_text()))
        except (OSError, json.JSONDecodeError, KeyError) as exc:
            raise DirectoryError(f"cannot read directory {path}: {exc}") from exc

    # -- loading -------------------------------------------------------------------------------

    def _load_applications(self, apps: dict) -> None:
        for name, app in apps.items():
            pre_authorized = {
                p["appId"].lower(): frozenset(p.get("scopes", [])) for p in app.get("preAuthorizedApplications", [])
            }
            scope_by_label = {s.get("adminConsentDisplayName"): s["value"] for s in app.get("scopes", [])}
            audience = app.get("signInAudience", "AzureADMyOrg")
            self.resources[name] = Resource(
                name=name,
                app_id=app["appId"],
                display_name=app.get("displayName", name),
                identifier_uris=tuple(app.get("identifierUris", [])),
                app_roles=tuple(r["value"] for r in app.get("appRoles", [])),
                scopes=tuple(s["value"] for s in app.get("scopes", [])),
                assignment_required=bool(app.get("appRoleAssignmentRequired", False)),
                token_version=int(app.get("requestedAccessTokenVersion") or 1),
                multi_tenant=audience != "AzureADMyOrg",
                pre_authorized=pre_authorized,
                role_scopes={
                    r["value"]: scope_by_label[r.get("displayName")]
                    for r in app.get("appRoles", [])
                    if r.get("displayName") in scope_by_label
                },
            )
        by_app_id = {a["appId"].lower(): (n, a) for n, a in apps.items()}
        for name, app in apps.items():
            required = []
            for entry in app.get("requiredResourceAccess", []):
                resource_app_id = str(entry.get("resourceAppId", "")).lower()
                found = by_app_id.get(resource_app_id)
                if found is None:  # a Microsoft API: it exists in every tenant; consent grants what we know of it
                    microsoft = next((r for r in BUILTIN_RESOURCES if r.app_id == resource_app_id), None)
                    scopes = [
                        MICROSOFT_SCOPE_IDS.get((resource_app_id, str(a.get("id", "")).lower()))
                        for a in entry.get("resourceAccess", [])
                        if a.get("type") == "Scope"
                    ]
                    if microsoft is not None and any(scopes):
                        required.append(RequiredAccess(microsoft.name, tuple(s for s in scopes if s), ()))
                    continue
                resource_name, resource = found
                ids = {str(a["id"]).lower(): a.get("type") for a in entry.get("resourceAccess", [])}
                required.append(
                    RequiredAccess(
                        resource_name,
                        tuple(s["value"] for s in resource.get("scopes", []) if ids.get(s["id"].lower()) == "Scope"),
                        tuple(r["value"] for r in resource.get("appRoles", []) if ids.get(r["id"].lower()) == "Role"),
                    )
                )
            application = Application(
                name=name,
                app_id=app["appId"],
                display_name=app.get("displayName", name),
                identifier_uris=tuple(app.get("identifierUris", [])),
                federated_identities=tuple(f["managedIdentity"] for f in app.get("federatedIdentityCredentials", [])),
                redirect_uris=tuple(
                    RedirectUri(platform, uri)
                    for platform in PLATFORMS
                    for uri in (app.get(platform) or {}).get("redirectUris", [])
                ),
                sign_in_audience=app.get("signInAudience", "AzureADMyOrg"),
                known_clients=frozenset(c.lower() for c in app.get("knownClientApplications", [])),
                required_access=tuple(required),
            )
            self.applications[app["appId"].lower()] = application
            self.applications_by_name[name] = application

    def _check_tenants_apart(self) -> None:
        """Tenant ids and domains, and the object ids of users, groups and identities, are unique everywhere."""
        ids: dict[str, str] = {}
        domains: dict[str, str] = {}
        objects: dict[str, str] = {}
        names: dict[str, str] = {}
        for tenant in self.tenants.values():
            if tenant.tenant_id.lower() in ids:
                raise DirectoryError(f"tenants {ids[tenant.tenant_id.lower()]} and {tenant.name} share the id")
            if not app_model.is_guid(tenant.tenant_id):
                raise DirectoryError(f"tenant {tenant.name}: id {tenant.tenant_id!r} is not a GUID")
            ids[tenant.tenant_id.lower()] = tenant.name
            if tenant.domain:
                if tenant.domain.lower() in domains:
                    raise DirectoryError(f"tenants {domains[tenant.domain.lower()]} and {tenant.name} share a domain")
                domains[tenant.domain.lower()] = tenant.name
            for principal in tenant.principals.values():
                key = principal.object_id.lower()
                if key in objects:
                    raise DirectoryError(f"object id {principal.object_id} is used twice ({objects[key]})")
                objects[key] = f"{principal.name} in {tenant.name}"
                # Users, groups and identities are named once in the whole file, so a user name alone
                # (token --user erin, the sign-in page at organizations) finds one person.
                if principal.kind != "application":
                    if principal.name in names:
                        raise DirectoryError(
                            f"the name {principal.name!r} is used in tenants {names[principal.name]} and {tenant.name}"
                        )
                    names[principal.name] = tenant.name

    def _load_vault(self, vaults: dict) -> None:
        # One origin serves one vault (the home tenant's): the first one in the file.
        if not vaults:
            return
        self.vault_name, vault = next(iter(vaults.items()))
        self.vault_secrets = dict(vault.get("secrets", {}))
        self.vault_readers = frozenset(vault.get("secretsUsers", []))
        for reader in self.vault_readers:
            self.home.principal(reader)  # fails early on a typo

    # -- run-time state ------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to what the file says: assignments, grants, consents, pre-authorizations and Azure resources."""
        self.azure.reset()
        self.pre_authorized = dict(self._initial_pre_authorized)
        for tenant in self.tenants.values():
            tenant.reset()

    def pre_authorize(self, client_app_id: str, resource: str, scopes: list[str] | None) -> None:
        """Add (scopes given) or remove (None) a pre-authorized client on an API, as "Expose an API" does.

        Pre-authorization is part of the app registration, so it holds in every tenant.
        """
        if self.resource(resource).first_party:
            raise DirectoryError(f"{resource} is Microsoft's API: only its owner can pre-authorize clients on it")
        key = (self.resource(resource).name, client_app_id.lower())
        if scopes is None:
            self.pre_authorized.pop(key, None)
        else:
            self.home._checked_grant({"clientAppId": client_app_id, "resource": resource, "scopes": scopes})
            self.pre_authorized[key] = frozenset(scopes)

    # -- tenants ---------------------------------------------------------------------------------

    def tenant_at(self, segment: str) -> Tenant | None:
        """The tenant a URL path names: its id or domain, as Entra accepts (aliases are not tenants)."""
        return next((t for t in self.tenants.values() if t.identifies(segment)), None)

    def tenant_named(self, name: str) -> Tenant:
        """For the CLI and admin API: a tenant by its name in the file, id or domain."""
        found = self.tenants.get(name) or self.tenant_at(name)
        if found is None:
            raise DirectoryError(f"no tenant named {name!r} (known: {', '.join(self.tenants)})")
        return found

    def find_user_anywhere(self, login: str) -> Principal | None:
        """A user of any tenant, by UPN, object id or short name."""
        return next((u for t in self.tenants.values() if (u := t.find_user(login)) is not None), None)

    def tenant_of(self, principal: Principal) -> Tenant:
        return next(t for t in self.tenants.values() if t.tenant_id == principal.tenant_id)

    def find_managed_identity_anywhere(
        self, *, client_id: str = "", object_id: str = "", resource_id: str = ""
    ) -> Principal | None:
        """The managed identity endpoint serves identities of every tenant (the identity's tenant issues)."""
        for tenant in self.tenants.values():
            found = tenant.find_managed_identity(client_id=client_id, object_id=object_id, resource_id=resource_id)
            if found is not None:
                return found
        return None

    def find_by_object_id_anywhere(self, object_id: str) -> Principal | None:
        return next((p for t in self.tenants.values() if (p := t.find_by_object_id(object_id)) is not None), None)

    # -- registrations ---------------------------------------------------------------------------

    def resource(self, name: str) -> Resource:
        """One of our apps, or one of Microsoft's APIs (by display name), which consent can name too."""
        found = self.resources.get(name) or next((r for r in BUILTIN_RESOURCES if r.name == name), None)
        if found is None:
            raise DirectoryError(f"no application named {name!r}")
        return found

    def find_resource(self, identifier: str) -> Resource | None:
        """Resolve an App ID URI or app id, case-insensitively, as Entra does (AADSTS500011 if None).

        Our apps are found from every tenant: a multi-tenant app's URI is unique across all tenants.
        Whether its service principal exists in a given tenant is the caller's next question.
        """
        wanted = identifier.rstrip("/").lower()
        for resource in (*self.resources.values(), *BUILTIN_RESOURCES):
            if wanted == resource.app_id.lower() or wanted in (u.rstrip("/").lower() for u in resource.identifier_uris):
                return resource
        return None

    def application(self, app_id: str) -> Application | None:
        return self.applications.get(app_id.lower())

    def redirect_uris(self, client_id: str) -> tuple[RedirectUri, ...]:
        """Where a sign-in for ``client_id`` may answer: a first-party client's, or the app's registrations."""
        if client_id.lower() in FIRST_PARTY_CLIENTS:
            return FIRST_PARTY_REDIRECT_URIS
        app = self.application(client_id)
        return app.redirect_uris if app else ()

    def client_exists(self, app_id: str) -> bool:
        """An app registration of ours or a Microsoft first-party client."""
        known = set(self.applications) | {r.app_id.lower() for r in reserved_by_the_tenant()}
        return app_id.lower() in known

    def client_name(self, client_app_id: str) -> str:
        app = self.application(client_app_id)
        return app.display_name if app else FIRST_PARTY_CLIENTS.get(client_app_id.lower(), client_app_id)

    # -- the home tenant, for the parts that only exist there ------------------------------------

    @property
    def tenant_id(self) -> str:
        return self.home.tenant_id

    @property
    def tenant_domain(self) -> str:
        return self.home.domain

    @property
    def principals(self) -> dict[str, Principal]:
        """The home tenant's principals."""
        return self.home.principals

    def principal(self, name: str) -> Principal:
        """A principal of the home tenant."""
        return self.home.principal(name)

    def find_user(self, login: str) -> Principal | None:
        """A user of the home tenant."""
        return self.home.find_user(login)

    def find_by_object_id(self, object_id: str) -> Principal | None:
        """A principal of the home tenant."""
        return self.home.find_by_object_id(object_id)

    def groups_of(self, principal: Principal) -> list[str]:
        return self.tenant_of(principal).groups_of(principal)

    def grant(self, client_app_id: str, resource: str, scopes: list[str]) -> None:
        """A delegated permission grant in the home tenant."""
        self.home.grant(client_app_id, resource, scopes)

    def revoke(self, client_app_id: str, resource: str) -> bool:
        """Remove a delegated permission grant in the home tenant."""
        return self.home.revoke(client_app_id, resource)

    def vault_reader(self, object_id: str) -> bool:
        """Key Vault Secrets User on the home tenant's vault, by RBAC: direct, or through a group for users."""
        principal = self.home.find_by_object_id(object_id)
        if principal is None:
            return False
        holders = {principal.name, *self.home.groups_of(principal)} if principal.kind == "user" else {principal.name}
        return bool(holders & self.vault_readers)

    def summary(self) -> dict:
        """What the home page and ``GET /admin/directory`` show: the home tenant, then every tenant."""
        home = self.home.summary()
        return {
            "tenant": {"id": self.home.tenant_id, "domain": self.home.domain, "name": self.home.name},
            "applications": [
                {
                    "name": r.name,
                    "appId": r.app_id,
                    "identifierUris": list(r.identifier_uris),
                    "appRoles": list(r.app_roles),
                    "scopes": list(r.scopes),
                    "appRoleAssignmentRequired": r.assignment_required,
                    "tokenVersion": r.token_version,
                    "signInAudience": self.applications_by_name[r.name].sign_in_audience,
                }
                for r in self.resources.values()
            ],
            "principals": home["principals"],
            "appRoleAssignments": home["appRoleAssignments"],
            "oauth2PermissionGrants": home["oauth2PermissionGrants"],
            "tenants": [t.summary() for t in self.tenants.values()],
        }
