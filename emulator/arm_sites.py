"""``Microsoft.Web/sites``: list (subscription, resource group), get, restart, stop, start.

What the real clients send (azure-mgmt-web's ``WebSiteManagementClient``, ``az functionapp``):
``GET .../providers/Microsoft.Web/sites`` (paged ``{"value": [...], "nextLink"}``), ``GET
.../sites/{name}``, ``POST .../sites/{name}/restart`` (200 with an empty body: the SDK accepts 200
only). Every write lands in the activity log with the caller, the operation and how it ended.

Listing across a scope returns the sites the caller may read. Whether ARM filters a subscription-wide
list for someone who can read only one resource group, or refuses it, is not documented; this
emulator filters, and refuses (403) only a caller with no role anywhere in that scope.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.responses import JSONResponse, Response

from .arm_requests import WEB_API_VERSIONS, ArmError, Caller, authorization_failed, authorize, check_provider_version
from .azure_resources import ActivityEvent, Site
from .state import State

READ = "Microsoft.Web/sites/read"
ACTIONS = {
    "restart": ("Microsoft.Web/sites/restart/action", "Restart Web App", None),
    "stop": ("Microsoft.Web/sites/stop/action", "Stop Web App", "Stopped"),
    "start": ("Microsoft.Web/sites/start/action", "Start Web App", "Running"),
}


def _scope(subscription: str, group: str | None = None, name: str | None = None) -> str:
    scope = f"/subscriptions/{subscription}"
    if group is not None:
        scope += f"/resourceGroups/{group}"
    if name is not None:
        scope += f"/providers/Microsoft.Web/sites/{name}"
    return scope


def _subscription(state: State, subscription: str) -> str:
    found = state.directory.azure.subscription(subscription)
    if found is None:
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{subscription[:100]}' could not be found.")
    return found.id


def _readable(state: State, caller: Caller, sites: list[Site], scope: str) -> list[dict]:
    azure = state.directory.azure
    if not azure.has_access_within(caller.principal, scope):
        raise authorization_failed(caller, READ, scope)
    if azure.allowed(caller.principal, READ, scope):
        return [s.json() for s in sites]
    return [s.json() for s in sites if azure.allowed(caller.principal, READ, s.id)]


def list_in_subscription(state: State, caller: Caller, version: str, sub: str) -> JSONResponse:
    check_provider_version(version, "sites", WEB_API_VERSIONS)
    sub = _subscription(state, sub)
    sites = state.directory.azure.sites(sub)
    return JSONResponse({"value": _readable(state, caller, sites, _scope(sub)), "nextLink": None})


def list_in_group(state: State, caller: Caller, version: str, sub: str, group: str) -> JSONResponse:
    check_provider_version(version, "sites", WEB_API_VERSIONS)
    sub = _subscription(state, sub)
    scope = _scope(sub, group)
    azure = state.directory.azure
    if not azure.has_access_within(caller.principal, scope):
        raise authorization_failed(caller, READ, scope)
    found = azure.resource_group(sub, group)
    if found is None:
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{group[:100]}' could not be found.")
    return JSONResponse({"value": _readable(state, caller, azure.sites(sub, found.name), scope), "nextLink": None})


def _site(state: State, caller: Caller, sub: str, group: str, name: str, action: str) -> Site:
    """Authorize first, then look: a caller without the right gets 403 whether or not the site exists."""
    sub = _subscription(state, sub)
    authorize(state, caller, action, _scope(sub, group, name))
    azure = state.directory.azure
    if azure.resource_group(sub, group) is None:
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{group[:100]}' could not be found.")
    site = azure.site(sub, group, name)
    if site is None:
        raise ArmError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.Web/sites/{name[:100]}' under resource group '{group[:100]}' was not found. "
            "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
        )
    return site


def get(state: State, caller: Caller, version: str, sub: str, group: str, name: str) -> JSONResponse:
    check_provider_version(version, "sites", WEB_API_VERSIONS)
    return JSONResponse(_site(state, caller, sub, group, name, READ).json())


def act(state: State, caller: Caller, version: str, sub: str, group: str, name: str, verb: str) -> Response:
    """restart, stop or start; 200 with an empty body, as App Service answers (the SDK accepts 200 only)."""
    check_provider_version(version, "sites", WEB_API_VERSIONS)
    action, label, new_state = ACTIONS[verb.lower()]
    scope = _scope(sub, group, name)
    try:
        site = _site(state, caller, sub, group, name, action)
    except ArmError as exc:
        if exc.status in (403, 404) and state.directory.azure.subscription(sub) is not None:
            _record(state, caller, action, label, scope, group, exc.status)
        raise
    if new_state is not None:
        site.state = new_state
    _record(state, caller, action, label, site.id, site.resource_group, 200)
    return Response(status_code=200)


def _record(state: State, caller: Caller, action: str, label: str, resource_id: str, group: str, status: int) -> None:
    """ARM writes the activity log for every write it accepted or refused, naming the real caller."""
    sub_status = {200: "OK", 403: "Forbidden", 404: "NotFound"}.get(status, str(status))
    state.directory.azure.record(
        ActivityEvent(
            at=datetime.now(UTC),
            caller=caller.activity_name,
            caller_object_id=caller.object_id,
            caller_name=caller.display_name,
            operation=action,
            operation_label=label,
            resource_id=resource_id,
            resource_group=group,
            subscription_id=resource_id.split("/")[2].lower(),
            tenant_id=caller.tenant_id,
            status="Succeeded" if status < 400 else "Failed",
            sub_status=sub_status,
            http_status=status,
        )
    )
