"""The demo's support-portal rows: the proxy reaches Azure Resource Manager on behalf of the user, and
the user's Azure RBAC decides (docs/support-portal.md).

Rows that change the tenant (a role assignment, the proxy's consent) put it back when they finish.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import requests

if TYPE_CHECKING:
    from .demo import Demo, Outcome

PROXY_SCOPE = "api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/access_as_user"
STAGING = "/portal/sites/rg-notify-staging/func-notify-api-staging/restart"
PROD = "/portal/sites/rg-notify-prod/func-notify-api-prod/restart"
ARM_API = "Windows Azure Service Management API"


def scenarios(demo: Demo) -> list[Callable[[], Outcome | list[Outcome]]]:
    from .demo import Outcome, problem_reason

    def restart(user: str, path: str) -> requests.Response:
        return demo.call("POST", path, demo.t.user_token(user, PROXY_SCOPE))

    def refused_because(response: requests.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return problem_reason(response)
        if body.get("roles"):
            return f"{body.get('action', '').split('/', 1)[-1]} needs {body['roles'][0]}"
        return problem_reason(response)

    def portal_restarts() -> list[Outcome]:
        staging = restart("alice", STAGING)
        prod = restart("alice", PROD)
        carol = restart("carol", PROD)
        return [
            Outcome(
                "Portal: alice restarts staging",
                "200",
                str(staging.status_code),
                "her Website Contributor on rg-notify-staging",
            ),
            Outcome("Portal: alice restarts prod", "403", str(prod.status_code), refused_because(prod)),
            Outcome(
                "Portal: carol restarts prod", "200", str(carol.status_code), "Website Contributor on the subscription"
            ),
        ]

    def portal_activity() -> Outcome:
        response = demo.call("GET", "/portal/activity", demo.t.user_token("alice", PROXY_SCOPE))
        items = response.json().get("items", []) if response.ok else []
        names = sorted({str(i.get("who", "")).split("@")[0] for i in items if i.get("result") == "Succeeded"})
        proxy = demo.t.directory["managedIdentities"]["obo-proxy-identity"]
        shown = ", ".join(n for n in names if n in ("alice", "carol"))
        leaked = {str(i.get("who")) for i in items} & {proxy["clientId"], proxy["principalId"]}
        return Outcome(
            "Portal: activity log names the users",
            "alice, carol",
            "the proxy" if leaked else shown or problem_reason(response),
            "ARM records the user's UPN: the token is theirs",
        )

    def portal_role_assign() -> Outcome:
        sub = demo.t.directory["subscriptions"]["contoso-notifications"]["subscriptionId"]
        scope = f"/subscriptions/{sub}/resourceGroups/rg-notify-staging"
        command = [sys.executable, "-m", "emulator", "--state-dir", str(demo.t.state_dir), "role"]
        args = ["--principal", "bob", "--role", "Website Contributor", "--scope", scope]
        before = restart("bob", STAGING)
        subprocess.run([*command, "assign", *args], check=True, capture_output=True, timeout=60)
        try:
            after = restart("bob", STAGING)
        finally:
            subprocess.run([*command, "remove", *args], check=True, capture_output=True, timeout=60)
        return Outcome(
            "Portal: role assigned, next request",
            "403 → 200",
            f"{before.status_code} → {after.status_code}",
            "python -m emulator role assign (Azure: ≤10 min)",
        )

    def portal_consent() -> Outcome:
        grant = {"clientAppId": demo.t.directory["applications"]["obo-proxy"]["appId"], "resource": ARM_API}
        demo.t.admin("DELETE", "grants", grant)
        try:
            blocked = demo.call("GET", "/portal/sites", demo.t.user_token("carol", PROXY_SCOPE))
        finally:
            demo.t.admin("POST", "grants", {**grant, "scopes": ["user_impersonation"]})
        return Outcome(
            "Portal: before consent to ARM",
            "AADSTS65001",
            problem_reason(blocked) if blocked.status_code == 403 else str(blocked.status_code),
            "user_impersonation not granted to the proxy",
        )

    return [portal_restarts, portal_activity, portal_role_assign, portal_consent]
