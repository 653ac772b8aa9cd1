"""A small Azure Resource Manager: what ``az login``, ``az functionapp``, azure-mgmt-web and the
support portal read and do, with RBAC evaluated on every request.

- ``GET /tenants``, ``GET /subscriptions[/{id}]``: what ``az login`` lists after every sign-in. A
  caller sees only the subscriptions where it holds a role (at the subscription or below), so bob and
  a managed identity without roles see none (``az login --allow-no-subscriptions``).
- ``GET /metadata/endpoints``: this local cloud, for ``az cloud register --endpoint-resource-manager``.
- Resource groups, ``Microsoft.Web/sites`` (``arm_sites``), the activity log (``arm_activity``), and
  ``GET {scope}/providers/Microsoft.Authorization/permissions``: the caller's own effective actions at
  a scope, which is how a portal decides whether to offer a button.

Paths under ``/subscriptions`` are matched without regard to case, as ARM matches them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import arm_activity, arm_sites
from .arm_requests import (
    AUTHORIZATION_API_VERSIONS,
    ArmError,
    Caller,
    api_version,
    authenticate,
    authorization_failed,
    check_provider_version,
    check_resources_version,
    check_tenant,
)
from .directory import RESOURCE_MANAGER, Tenant
from .state import State


def _tenant(tenant: Tenant) -> dict:
    tid, domain = tenant.tenant_id, tenant.domain
    return {
        "id": f"/tenants/{tid}",
        "tenantId": tid,
        "countryCode": "US",
        "displayName": tenant.display_name,
        "domains": [domain] if domain else [],
        "defaultDomain": domain,
        "tenantCategory": "Home",
        "tenantType": "AAD",
    }


def _subscription_json(state: State, subscription_id: str) -> dict:
    sub = state.directory.azure.subscriptions[subscription_id]
    return {
        "id": sub.scope,
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "subscriptionId": sub.id,
        "tenantId": sub.tenant_id,
        "displayName": sub.display_name,
        "state": "Enabled",
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "Internal_2014-09-01",
            "spendingLimit": "Off",
        },
    }


def _visible_subscriptions(state: State, caller: Caller) -> list[str]:
    azure = state.directory.azure
    return [
        s.id
        for s in azure.subscriptions.values()
        if s.tenant_id == caller.tenant_id and azure.has_access_within(caller.principal, s.scope)
    ]


async def tenants(request: Request) -> Response:
    state: State = request.app.state.emulator
    try:
        check_resources_version(api_version(request))
        caller = authenticate(request, state)
    except ArmError as exc:
        return exc.response(state)
    return JSONResponse({"value": [_tenant(caller.tenant)]})  # the signed-in tenant (guest tenants: not here)


def _subscriptions(state: State, caller: Caller, version: str) -> JSONResponse:
    check_resources_version(version)
    return JSONResponse({"value": [_subscription_json(state, s) for s in _visible_subscriptions(state, caller)]})


def _one_subscription(state: State, caller: Caller, version: str, sub: str) -> JSONResponse:
    check_resources_version(version)
    if sub.lower() not in _visible_subscriptions(state, caller):
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sub[:100]}' could not be found.")
    return JSONResponse(_subscription_json(state, sub.lower()))


def _group_json(state: State, sub: str, name: str) -> dict:
    group = state.directory.azure.resource_groups[(sub, name.lower())]
    return {
        "id": group.id,
        "name": group.name,
        "type": "Microsoft.Resources/resourceGroups",
        "location": group.location,
        "properties": {"provisioningState": "Succeeded"},
    }


GROUP_READ = "Microsoft.Resources/subscriptions/resourceGroups/read"


def _groups(state: State, caller: Caller, version: str, sub: str) -> JSONResponse:
    check_resources_version(version)
    azure = state.directory.azure
    subscription = azure.subscription(sub)
    if subscription is None:
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sub[:100]}' could not be found.")
    if not azure.has_access_within(caller.principal, subscription.scope):
        raise authorization_failed(caller, GROUP_READ, subscription.scope)
    names = [g.name for (s, _), g in azure.resource_groups.items() if s == subscription.id]
    scopes = {n: f"{subscription.scope}/resourceGroups/{n}" for n in names}
    readable = [n for n in names if azure.allowed(caller.principal, GROUP_READ, scopes[n])]
    return JSONResponse({"value": [_group_json(state, subscription.id, n) for n in readable]})


def _group(state: State, caller: Caller, version: str, sub: str, group: str) -> JSONResponse:
    check_resources_version(version)
    azure = state.directory.azure
    subscription = azure.subscription(sub)
    if subscription is None:
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sub[:100]}' could not be found.")
    scope = f"{subscription.scope}/resourceGroups/{group}"
    if not azure.allowed(caller.principal, GROUP_READ, scope):
        raise authorization_failed(caller, GROUP_READ, scope)
    if azure.resource_group(subscription.id, group) is None:
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{group[:100]}' could not be found.")
    return JSONResponse(_group_json(state, subscription.id, group))


def _permissions(state: State, caller: Caller, version: str, scope: str) -> JSONResponse:
    """The caller's own permissions at ``scope``: one entry per role assignment that applies there."""
    check_provider_version(version, "permissions", AUTHORIZATION_API_VERSIONS)
    azure = state.directory.azure
    try:
        canonical = azure.canonical_scope(scope)
    except ValueError:
        canonical = None
    if canonical is None:  # ARM checks the caller's access before existence: no access, no answer
        if azure.subscription(scope.split("/")[2]) is None or not azure.has_access_within(caller.principal, scope):
            raise authorization_failed(caller, "Microsoft.Authorization/permissions/read", scope)
        raise ArmError(404, "ResourceNotFound", f"The scope '{scope[:200]}' was not found.")
    if caller.principal is None:
        return JSONResponse({"value": []})
    return JSONResponse({"value": [a.role.permission() for a in azure.effective(caller.principal, canonical)]})


_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_GROUP = _SUB + r"/resourcegroups/(?P<group>[^/]+)"
_SITE = _GROUP + r"/providers/microsoft\.web/sites/(?P<name>[^/]+)"
_SCOPE = r"(?P<scope>/subscriptions/[^/]+(?:/resourcegroups/[^/]+(?:/providers/microsoft\.web/sites/[^/]+)?)?)"
Handler = Callable[..., Response]
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    (method, re.compile(path + r"/?$", re.IGNORECASE), handler)
    for method, path, handler in (
        ("GET", r"/subscriptions", _subscriptions),
        ("GET", _SUB, _one_subscription),
        ("GET", _SUB + r"/resourcegroups", _groups),
        ("GET", _GROUP, _group),
        ("GET", _SUB + r"/providers/microsoft\.web/sites", arm_sites.list_in_subscription),
        ("GET", _GROUP + r"/providers/microsoft\.web/sites", arm_sites.list_in_group),
        ("GET", _SITE, arm_sites.get),
        ("POST", _SITE + r"/(?P<verb>restart|stop|start)", arm_sites.act),
        ("GET", _SCOPE + r"/providers/microsoft\.authorization/permissions", _permissions),
        ("GET", _SUB + r"/providers/microsoft\.insights/eventtypes/management/values", arm_activity.list_events),
    )
]


async def dispatch(request: Request) -> Response:
    """Every ``/subscriptions...`` request: version present, caller authenticated, then the route."""
    state: State = request.app.state.emulator
    path = request.url.path
    try:
        version = api_version(request)
        caller = authenticate(request, state)
        for method, pattern, handler in ROUTES:
            found = pattern.match(path)
            if found is None:
                continue
            if request.method != method:
                raise ArmError(
                    405, "MethodNotAllowed", f"The requested resource does not support http method '{request.method}'."
                )
            subscription = state.directory.azure.subscription(found.groupdict().get("sub") or "")
            if subscription is not None:
                check_tenant(state, caller, subscription.tenant_id)
            extra = {"request": request} if handler is arm_activity.list_events else {}
            return handler(state, caller, version, **found.groupdict(), **extra)
        raise ArmError(
            404, "NotFound", f"The emulator's Resource Manager has no {request.method} {path[:200]} (not emulated)."
        )
    except ArmError as exc:
        return exc.response(state)


async def metadata_endpoints(request: Request) -> JSONResponse:
    """The cloud's description (``api-version=2022-09-01`` shape), read by ``az cloud register``."""
    state: State = request.app.state.emulator
    origin = state.config.origin
    return JSONResponse(
        {
            "name": "LocalEmulator",
            "resourceManager": f"{origin}/",
            "authentication": {
                "loginEndpoint": origin,
                "audiences": list(RESOURCE_MANAGER.identifier_uris),
                "tenant": "organizations",
                "identityProvider": "AAD",
            },
            "portal": f"{origin}/",
            "microsoftGraphResourceId": "https://graph.microsoft.com/",
            "suffixes": {"keyVaultDns": "vault.azure.net", "storage": "core.windows.net"},
        }
    )
