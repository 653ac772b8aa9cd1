"""The support portal's backend: function apps listed, restarted and audited through Azure Resource
Manager, always as the signed-in user.

The proxy's own identity holds no Azure role. Each call carries the user's ARM token, obtained on
behalf of the user (delegated permission Azure Service Management ``user_impersonation``), so ARM
applies the *user's* Azure RBAC: the portal can never do more than the person using it, and the
activity log names that person. ARM's refusals become problems that say which action on which scope
was refused and which built-in role grants it; ARM's 404 stays a 404.

The calls are plain REST through the suite's ``BearerClient`` (retries, one fresh-token retry on
401) rather than ``azure-mgmt-web``: three routes do not justify the SDK's import cost (see
docs/support-portal.md, "Why not azure-mgmt-web").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import requests

from outbound import BearerClient
from web import Problem, problems

from . import azure_rbac

# Every ARM token is for this resource; the proxy asks for it on behalf of the user.
ARM_SCOPE = "https://management.azure.com/user_impersonation"
SITES_API = "2024-11-01"
PERMISSIONS_API = "2022-04-01"
ACTIVITY_API = "2015-04-01"
READ = "Microsoft.Web/sites/read"
RESTART = "Microsoft.Web/sites/restart/action"
READ_ACTIVITY = "Microsoft.Insights/eventtypes/values/read"
SITE_ACTIONS = (
    "microsoft.web/sites/restart/action",
    "microsoft.web/sites/stop/action",
    "microsoft.web/sites/start/action",
)
MAX_PAGES = 20
# ARM's names: resource groups 1-90 of letters, digits, ._-() ; sites 2-60 of letters, digits and hyphens.
GROUP_NAME = re.compile(r"^[\w.()-]{1,90}$")
SITE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,58}[A-Za-z0-9]$")
_REFUSAL = re.compile(r"perform action '(?P<action>[^']+)' over scope '(?P<scope>[^']+)'")


class ArmRefusal(Problem):
    """ARM answered ``arm_status`` with its error ``code`` and ``message`` (None: it did not answer), to
    a call for ``action`` on ``scope``. What our client hears, for a person: which action on which
    scope was refused and the built-in role that grants it; ARM's 404 stays a 404; our own request's
    faults are a 502; the rest 503."""

    def __init__(self, status: int | None, code: str, message: str, *, action: str, scope: str) -> None:
        self.message = message  # refused_action reads the action and scope ARM names in it
        reason = f"Azure Resource Manager answered {status} {code}"
        if status == 403:
            action, scope = self.refused_action(action, scope)
            roles = azure_rbac.roles_granting(action)
            grant = f" The built-in role {roles[0]} at this scope or above grants it." if roles else ""
            super().__init__(
                403,
                f"Azure Resource Manager refused {action} on {scope}: your Azure role assignments do not grant it "
                f"(AuthorizationFailed).{grant} In Azure a new role assignment can take up to 10 minutes to apply.",
                title="Forbidden by Azure RBAC",
                reason=reason,
                action=action,
                scope=scope,
                roles=roles,
                missing=[f"Azure role {roles[0] if roles else 'granting ' + action} at {scope}"],
            )
        elif status == 404:
            super().__init__(404, message or "Not found.", title="Not found", reason=reason)
        elif status == 401 and code == "InvalidAuthenticationTokenTenant":
            # A user of another tenant (a customer's): their token is their tenant's, the subscription is ours.
            super().__init__(
                403,
                f"The portal's subscription belongs to another tenant than yours: Azure Resource Manager refused "
                f"your tenant's token for {scope} (InvalidAuthenticationTokenTenant). The support portal is for the "
                "subscription's own tenant; a guest account there would be needed.",
                title="Another tenant's subscription",
                reason=reason,
                scope=scope,
            )
        elif status in (400, 401):  # the proxy's request or token, not the user's doing
            super().__init__(
                502,
                f"Azure Resource Manager refused the portal's request ({status} {code}). Check "
                "RESOURCE_MANAGER_URL and PORTAL_SUBSCRIPTION_ID.",
                title="Resource Manager refused",
                reason=reason,
            )
        else:
            super().__init__(
                503,
                f"Azure Resource Manager is unavailable ({status or 'no answer'}); retry later.",
                headers=problems.RETRY_LATER,
                reason=reason,
            )

    def refused_action(self, fallback_action: str, fallback_scope: str) -> tuple[str, str]:
        """The action and scope ARM's ``AuthorizationFailed`` names (its message is the only place it says)."""
        found = _REFUSAL.search(self.message)
        return (found["action"], found["scope"]) if found else (fallback_action, fallback_scope)


@dataclass(frozen=True)
class Portal:
    """One user's view of one subscription, through ``arm`` (whose tokens are that user's)."""

    arm: BearerClient
    subscription_id: str

    # -- ARM calls -----------------------------------------------------------------------------

    def _send(self, method: str, path: str, params: dict[str, str], action: str) -> requests.Response:
        """ARM's answer to a call for ``action`` (the permission it needs), or ``ArmRefusal``."""
        try:
            response = self.arm.request(method, path, params=params)
        except requests.RequestException as exc:
            silent = "Azure Resource Manager did not answer."
            raise ArmRefusal(None, type(exc).__name__, silent, action=action, scope=self.scope) from exc
        if response.ok:
            return response
        try:
            error = response.json().get("error") or {}
        except (ValueError, AttributeError):
            error = {}
        code, message = error.get("code"), error.get("message")
        raise ArmRefusal(
            response.status_code,
            code if isinstance(code, str) else "",
            message if isinstance(message, str) else response.text[:300],
            action=action,
            scope=self.scope,
        )

    def _get(self, path: str, api_version: str, action: str, **params: str) -> dict[str, Any]:
        return self._object(self._send("GET", path, {"api-version": api_version, **params}, action), action)

    def _object(self, response: requests.Response, action: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:  # a 2xx that is not JSON: Resource Manager (or a proxy before it) is broken
            body = None
        if not isinstance(body, dict):
            message = "Azure Resource Manager answered with something that is not a JSON object."
            raise ArmRefusal(502, "", message, action=action, scope=self.scope)
        return body

    @property
    def scope(self) -> str:
        return f"/subscriptions/{quote(self.subscription_id, safe='')}"

    def site_id(self, group: str, name: str) -> str:
        return f"{self.scope}/resourceGroups/{group}/providers/Microsoft.Web/sites/{name}"

    # -- what the routes do --------------------------------------------------------------------

    def sites(self) -> list[dict[str, object]]:
        """The function apps this user may read, each with whether this user may restart it."""
        path = f"{self.scope}/providers/Microsoft.Web/sites"
        body = self._get(path, SITES_API, READ)
        found = list(body.get("value") or [])
        for _ in range(MAX_PAGES):  # ARM pages large lists; nextLink is an absolute URL on the same host
            next_link = body.get("nextLink")
            if not isinstance(next_link, str) or not next_link.startswith(self.arm.base_url + "/"):
                break
            body = self._object(self._send("GET", next_link.removeprefix(self.arm.base_url), {}, READ), READ)
            found += list(body.get("value") or [])
        apps = [s for s in found if isinstance(s, dict) and "functionapp" in str(s.get("kind", "")).lower()]
        return sorted((self._site(s) for s in apps), key=lambda s: (str(s["resourceGroup"]), str(s["name"])))

    def _site(self, site: dict[str, Any]) -> dict[str, object]:
        properties = site.get("properties") or {}
        site_id = str(site.get("id", ""))
        group = str(properties.get("resourceGroup") or _segment(site_id, "resourceGroups"))
        permissions = self._get(f"{site_id}/providers/Microsoft.Authorization/permissions", PERMISSIONS_API, READ)
        return {
            "id": site_id,
            "name": site.get("name"),
            "resourceGroup": group,
            "location": site.get("location"),
            "kind": site.get("kind"),
            "state": properties.get("state"),
            "defaultHostName": properties.get("defaultHostName"),
            "mayRestart": azure_rbac.allows(permissions.get("value") or [], RESTART),
        }

    def restart(self, group: str, name: str) -> None:
        """POST .../restart: ARM answers 200 with an empty body once App Service accepted it."""
        self._send("POST", f"{self.site_id(group, name)}/restart", {"api-version": SITES_API}, RESTART)

    def recent_restarts(self, days: int = 7) -> list[dict[str, object]]:
        """Restarts, stops and starts of function apps in the activity log: who, what, when, and the result."""
        since = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
        path = f"{self.scope}/providers/Microsoft.Insights/eventtypes/management/values"
        activity = self._get(path, ACTIVITY_API, READ_ACTIVITY, **{"$filter": f"eventTimestamp ge '{since}'"})
        events = activity.get("value") or []
        return [_event(e) for e in events if isinstance(e, dict) and _operation(e).lower() in SITE_ACTIONS]


def _segment(resource_id: str, after: str) -> str:
    parts = resource_id.split("/")
    lowered = [p.lower() for p in parts]
    return parts[lowered.index(after.lower()) + 1] if after.lower() in lowered[:-1] else ""


def _value(field: object) -> object:
    return field.get("value") if isinstance(field, dict) else field


def _operation(event: dict[str, Any]) -> str:
    return str(_value(event.get("operationName")) or "")


def _event(event: dict[str, Any]) -> dict[str, object]:
    resource_id = str(event.get("resourceId", ""))
    claims = event.get("claims") if isinstance(event.get("claims"), dict) else {}
    operation = _operation(event)
    return {
        "when": event.get("eventTimestamp"),
        "who": event.get("caller"),  # the UPN ARM recorded: the user, never the proxy
        "whoName": (claims or {}).get("name"),
        "action": operation.split("/")[-2].lower() if operation.count("/") >= 2 else operation,
        "operation": operation,
        "site": _segment(resource_id, "sites"),
        "resourceGroup": event.get("resourceGroupName") or _segment(resource_id, "resourceGroups"),
        "result": _value(event.get("status")),
    }
