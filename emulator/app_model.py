"""Entra's app-model rules, applied to ``directory.json`` before the emulator serves it.

The local tenant must never accept what Entra refuses: a file that would fail as a Graph request
(``az ad app update``, the Graph Bicep extension) fails here too, with one line naming the app and
the value, so the mistake is found on a laptop rather than in the first deployment.

What Entra does, in the words of its errors (quoted in the checks below): role and scope values
share one namespace per app; ids and values are unique within an app; App ID URIs are unique in
the tenant and of an accepted form; references (pre-authorizations, grants, required access,
assignments, federated credentials, known client applications) must name things that exist; a
multi-tenant app's App ID URI must be one Entra accepts for any tenant (its app id, the home
tenant's id, or a verified domain of the home tenant), because it is unique across all tenants.
Microsoft's own resources (Key Vault, Graph, the token exchange, ARM, ...) exist in every tenant: they are passed in as
``reserved`` so their app ids and URIs count as taken, and they are never checked themselves.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NoReturn

from . import redirect_uris

MEMBER_TYPES = {"User", "Application"}
SIGN_IN_AUDIENCES = (
    "AzureADMyOrg",
    "AzureADMultipleOrgs",
    "AzureADandPersonalMicrosoftAccount",
    "PersonalMicrosoftAccount",
)
# Principal kinds in directory.json and the allowedMemberTypes entry that admits them.
_MEMBER_TYPE_OF = {"users": "User", "groups": "User", "managedIdentities": "Application", "applications": "Application"}
# Entra accepts api://, https:// (verified domain, tenant policy permitting) and a few legacy
# forms; we allow the two the issue and Microsoft's guidance use. No wildcards, query or fragment.
_URI_FORM = re.compile(r"^(api|https)://[^\s*?#]+$", re.IGNORECASE)


class AppModelError(ValueError):
    """directory.json describes something Entra would refuse; the message is one line."""


@dataclass(frozen=True)
class Reserved:
    """An app that exists in every tenant (first-party): its app id and URIs are taken."""

    name: str
    app_id: str
    identifier_uris: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()  # delegated scopes a grant may name (ARM's user_impersonation, ...)


def _fail(app: str, message: str) -> NoReturn:
    raise AppModelError(f"app {app}: {message}")


def is_guid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def check(data: Mapping, reserved: Iterable[Reserved] = ()) -> None:
    """Raise AppModelError for the first rule the file breaks."""
    reserved = tuple(reserved)
    apps: Mapping[str, Mapping] = data.get("applications", {})
    home = data.get("tenant", {})
    for name, app in apps.items():
        _check_roles_and_scopes(name, app)
        _check_uri_forms(name, app)
        _check_redirect_uris(name, app)
        _check_federated_credentials(name, app, data.get("managedIdentities", {}))
    _check_tenant_uniqueness(apps, reserved)
    for name, app in apps.items():
        _check_sign_in_audience(name, app, home)
    known_clients = {a["appId"].lower() for a in apps.values()} | {r.app_id.lower() for r in reserved}
    for name, app in apps.items():
        _check_pre_authorizations(name, app, known_clients)
        _check_required_access(name, app, apps)
        _check_known_clients(name, app, apps)
    _check_grants(data.get("oauth2PermissionGrants", []), apps, known_clients, reserved)
    _check_assignments(data, apps)
    for tenant_name, tenant in data.get("tenants", {}).items():
        # In another tenant, the principals holding roles are that tenant's, and the service
        # principals of our apps there count as applications.
        view = {**tenant, "applications": {sp: {} for sp in tenant.get("servicePrincipals", {})}}
        try:
            _check_grants(tenant.get("oauth2PermissionGrants", []), apps, known_clients, reserved)
            _check_assignments(view, apps)
        except AppModelError as exc:
            raise AppModelError(f"tenant {tenant_name}: {exc}") from None


def _check_roles_and_scopes(name: str, app: Mapping) -> None:
    roles, scopes = app.get("appRoles", []), app.get("scopes", [])
    for kind, entries in (("app role", roles), ("scope", scopes)):
        seen_ids: set[str] = set()
        seen_values: set[str] = set()
        for entry in entries:
            value, entry_id = entry.get("value"), str(entry.get("id", ""))
            if not is_guid(entry_id):
                _fail(name, f"{kind} {value!r} has id {entry_id!r}, which is not a GUID")
            if not value or any(c.isspace() for c in value) or value.startswith("."):
                # The portal and Graph refuse empty values, spaces and a leading dot in role/scope values.
                _fail(name, f"{kind} value {value!r} is empty, contains a space or starts with a dot")
            # Graph: code DuplicateValue, "Request contains a property with duplicate values."
            if entry_id.lower() in seen_ids:
                _fail(name, f"two {kind}s share the id {entry_id}")
            if value in seen_values:
                _fail(name, f"two {kind}s share the value {value!r}")
            seen_ids.add(entry_id.lower())
            seen_values.add(value)
        if kind == "app role":
            for entry in entries:
                types = set(entry.get("allowedMemberTypes") or [])
                if not types or not types <= MEMBER_TYPES:
                    _fail(name, f"app role {entry.get('value')!r} allowedMemberTypes must be User and/or Application")
    # Roles and scopes share one namespace. Same value: "It contains duplicate value" (portal) /
    # DuplicateValue (Graph). Same id: "The following values must match for the 'oauth2Permissions'
    # and 'appRoles' properties with identifier '<id>': (description, adminConsentDescription),
    # (displayName, adminConsentDisplayName), ... (value, value)". Only a permission exposed both
    # ways with identical id, value and texts passes.
    for role in roles:
        for scope in scopes:
            same_value = role["value"] == scope["value"]
            same_id = str(role["id"]).lower() == str(scope["id"]).lower()
            if not (same_value or same_id):
                continue
            matching = (
                same_value
                and same_id
                and role.get("displayName") == scope.get("adminConsentDisplayName")
                and role.get("description") == scope.get("adminConsentDescription")
            )
            if not matching:
                shared = f"the value {role['value']!r}" if same_value else f"the id {role['id']}"
                _fail(
                    name,
                    f"app role {role['value']!r} and scope {scope['value']!r} share {shared}; roles and scopes "
                    "share one namespace (give the scope its own value and id)",
                )


def _check_uri_forms(name: str, app: Mapping) -> None:
    if not is_guid(app.get("appId")):
        _fail(name, f"appId {app.get('appId')!r} is not a GUID")
    for uri in app.get("identifierUris", []):
        # Graph refuses other forms; https:// URIs must also use a verified domain of the tenant
        # (not checkable offline), and tenant policy may demand api://<appId> (docs/deploy.md).
        if not isinstance(uri, str) or not _URI_FORM.match(uri):
            _fail(name, f"App ID URI {uri!r} is not of an accepted form (api://... or https://...)")


# Entra: at most 256 redirect URIs per app (work and school accounts).
MAX_REDIRECT_URIS = 256


def _check_redirect_uris(name: str, app: Mapping) -> None:
    """``web``, ``spa`` and ``publicClient`` hold ``redirectUris`` as Graph's application does.

    Entra's rules: https, except ``http://localhost`` / ``http://127.0.0.1`` during development;
    at most 256 characters; no wildcards, fragments or the characters ``! $ ' ( ) , ;``. The emulator
    also refuses what a browser would read differently (user information, backslashes), and one URI
    registered twice (Entra then picks one of the platforms arbitrarily).
    """
    seen: dict[str, str] = {}
    for platform in redirect_uris.PLATFORMS:
        section = app.get(platform)
        if section is None:
            continue
        uris = section.get("redirectUris") if isinstance(section, Mapping) else None
        if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
            _fail(name, f"{platform}.redirectUris must be a list of strings")
        for uri in uris:
            if "*" in uri:
                _fail(name, f"{platform} redirect URI {uri!r}: wildcards are not allowed")
            try:
                parts = redirect_uris.parse(uri)
            except redirect_uris.UnsafeRedirectUri as exc:
                _fail(name, f"{platform} redirect URI {uri!r}: {exc}")
            if parts.scheme != "https" and not redirect_uris.is_loopback(parts):
                _fail(name, f"{platform} redirect URI {uri!r} must use https (http only for localhost or 127.0.0.1)")
            if uri in seen:
                _fail(name, f"redirect URI {uri!r} is registered twice ({seen[uri]} and {platform})")
            seen[uri] = platform
    if len(seen) > MAX_REDIRECT_URIS:
        _fail(name, f"{len(seen)} redirect URIs; Entra allows at most {MAX_REDIRECT_URIS}")


def _check_sign_in_audience(name: str, app: Mapping, home: Mapping) -> None:
    audience = app.get("signInAudience", "AzureADMyOrg")
    if audience not in SIGN_IN_AUDIENCES:
        _fail(name, f"signInAudience {audience!r} is not one of {', '.join(SIGN_IN_AUDIENCES)}")
    if "Personal" in audience and app.get("requestedAccessTokenVersion") != 2:
        # Graph: personal Microsoft accounts only get v2 tokens.
        _fail(name, f"signInAudience {audience} needs requestedAccessTokenVersion 2")
    if audience == "AzureADMyOrg":
        return
    # A multi-tenant App ID URI is unique across all tenants, so Entra accepts only forms that
    # only this app's owner can claim: api://<appId>, api://<tenantId>/<name>, api://<name>/<appId>,
    # or https:// on a verified domain of the home tenant (or a subdomain of one).
    app_id, tenant_id = str(app.get("appId", "")).lower(), str(home.get("id", "")).lower()
    domains = [d.lower() for d in (home.get("domain"), *home.get("verifiedDomains", [])) if d]
    for uri in app.get("identifierUris", []):
        scheme, _, rest = uri.lower().partition("://")
        host, _, path = rest.partition("/")
        if scheme == "api" and (
            (host == app_id and not path) or (host == tenant_id and path) or (path and path == app_id)
        ):
            continue
        if scheme == "https" and any(host == d or host.endswith(f".{d}") for d in domains):
            continue
        _fail(
            name,
            f"App ID URI {uri!r} is not accepted for a multi-tenant app ({audience}): use api://{app.get('appId')}, "
            f"api://{home.get('id')}/<name> or https:// on a verified domain of the home tenant",
        )


def _check_known_clients(name: str, app: Mapping, apps: Mapping[str, Mapping]) -> None:
    # knownClientApplications bundles consent for a client of the same owner: it must name an app.
    app_ids = {str(a["appId"]).lower() for a in apps.values()}
    for client in app.get("knownClientApplications", []):
        if str(client).lower() not in app_ids:
            _fail(name, f"knownClientApplications names {client!r}, which is not an app registration in the file")
        if str(client).lower() == str(app["appId"]).lower():
            _fail(name, "knownClientApplications names the app itself")


def _check_tenant_uniqueness(apps: Mapping[str, Mapping], reserved: tuple[Reserved, ...]) -> None:
    # Graph: "Another object with the same value for property identifierUris already exists."
    uri_owner: dict[str, str] = {}
    app_id_owner: dict[str, str] = {}
    for r in reserved:
        app_id_owner[r.app_id.lower()] = f"{r.name} (built in)"
        for uri in r.identifier_uris:
            uri_owner[uri.rstrip("/").lower()] = f"{r.name} (built in)"
    for name, app in apps.items():
        app_id = str(app["appId"]).lower()
        if app_id in app_id_owner:
            _fail(name, f"appId {app['appId']} is already the app id of {app_id_owner[app_id]}")
        app_id_owner[app_id] = name
        for uri in app.get("identifierUris", []):
            key = uri.rstrip("/").lower()
            if key in uri_owner and uri_owner[key] != name:
                _fail(name, f"App ID URI {uri!r} is already used by {uri_owner[key]}; URIs are unique in a tenant")
            uri_owner[key] = name


def _check_federated_credentials(name: str, app: Mapping, identities: Mapping) -> None:
    seen: set[str] = set()
    for credential in app.get("federatedIdentityCredentials", []):
        cred_name = credential.get("name")
        if not cred_name:
            _fail(name, f"federated credential for {credential.get('managedIdentity')!r} has no name")
        # Names are unique per app (Graph refuses a second credential with the same name).
        if cred_name.lower() in seen:
            _fail(name, f"two federated credentials are named {cred_name!r}")
        seen.add(cred_name.lower())
        identity = credential.get("managedIdentity")
        if identity not in identities:
            _fail(name, f"federated credential {cred_name!r} names unknown managed identity {identity!r}")
        if identities[identity].get("type", "UserAssigned") != "UserAssigned":
            _fail(
                name, f"federated credential {cred_name!r}: {identity!r} is system-assigned; only user-assigned qualify"
            )


def _check_pre_authorizations(name: str, app: Mapping, known_clients: set[str]) -> None:
    scopes = {s["value"] for s in app.get("scopes", [])}
    seen: set[str] = set()
    for entry in app.get("preAuthorizedApplications", []):
        client = str(entry.get("appId", ""))
        if client.lower() not in known_clients:
            _fail(name, f"pre-authorized client {client!r} is neither an app in the file nor a first-party client")
        if client.lower() in seen:
            _fail(name, f"pre-authorized client {client} is listed twice")
        seen.add(client.lower())
        for scope in entry.get("scopes", []):
            # Graph: "Property api.preAuthorizedApplications.delegatedPermissionIds has a Permission Id
            # that cannot be found in the AppPermissions sets."
            if scope not in scopes:
                _fail(name, f"pre-authorization of {client} names scope {scope!r}, which the app does not expose")


def _check_required_access(name: str, app: Mapping, apps: Mapping[str, Mapping]) -> None:
    by_app_id = {a["appId"].lower(): a for a in apps.values()}
    for entry in app.get("requiredResourceAccess", []):
        resource = by_app_id.get(str(entry.get("resourceAppId", "")).lower())
        if resource is None:
            continue  # a Microsoft API (Graph, ...): its permissions are not ours to list
        for access in entry.get("resourceAccess", []):
            pool = resource.get("scopes", []) if access.get("type") == "Scope" else resource.get("appRoles", [])
            if not any(str(p["id"]).lower() == str(access.get("id")).lower() for p in pool):
                _fail(
                    name,
                    f"requiredResourceAccess names {access.get('type')} id {access.get('id')} "
                    f"that app {entry['resourceAppId']} does not define",
                )


def _check_grants(
    grants: list, apps: Mapping[str, Mapping], known_clients: set[str], reserved: tuple[Reserved, ...] = ()
) -> None:
    # Consent can name Microsoft's APIs too (Azure Service Management's user_impersonation, ...).
    microsoft = {r.name: set(r.scopes) for r in reserved}
    for grant in grants:
        resource, client = grant.get("resource"), str(grant.get("clientAppId", ""))
        if resource not in apps and resource not in microsoft:
            raise AppModelError(f"oauth2PermissionGrant for client {client}: unknown resource app {resource!r}")
        if client.lower() not in known_clients:
            _fail(resource, f"oauth2PermissionGrant names unknown client {client!r}")
        scopes = microsoft[resource] if resource not in apps else {s["value"] for s in apps[resource].get("scopes", [])}
        for scope in grant.get("scopes", []):
            if scope not in scopes:
                _fail(
                    resource, f"oauth2PermissionGrant for {client} names scope {scope!r}, which the app does not expose"
                )


def _check_assignments(data: Mapping, apps: Mapping[str, Mapping]) -> None:
    member_type = {
        principal: _MEMBER_TYPE_OF[section] for section in _MEMBER_TYPE_OF for principal in data.get(section, {})
    }
    for assignment in data.get("appRoleAssignments", []):
        principal, resource, role = assignment.get("principal"), assignment.get("resource"), assignment.get("role")
        if resource not in apps:
            raise AppModelError(f"appRoleAssignment of {principal!r}: unknown resource app {resource!r}")
        if principal not in member_type:
            _fail(resource, f"appRoleAssignment names unknown principal {principal!r}")
        # Graph refuses an appRoleAssignment whose appRoleId the resource does not define.
        found = next((r for r in apps[resource].get("appRoles", []) if r.get("value") == role), None)
        if found is None:
            _fail(
                resource, f"appRoleAssignment of {principal!r} names app role {role!r}, which the app does not define"
            )
        # ... and one whose role does not admit the principal's kind (allowedMemberTypes).
        if member_type[principal] not in found.get("allowedMemberTypes", []):
            _fail(
                resource,
                f"app role {role!r} is not assignable to {principal!r} ({member_type[principal]} is not in "
                "allowedMemberTypes)",
            )
