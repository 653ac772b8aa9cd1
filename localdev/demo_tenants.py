"""The demo's rows for several tenants (docs/multi-tenant.md): a customer's users and managed identity
served, a user the customer did not assign refused by Entra, a tenant that is not a customer refused
by the API although its admin granted the role, tenants' data apart, and a tenant before and after
admin consent. The consent it gives is taken back at the end, so the demo can run again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import requests
from azure.core.exceptions import ClientAuthenticationError

from .demo import API_RESOURCE, AZURE_CLI, PROXY_SCOPE, Demo, Outcome, claims, problem_code, problem_reason


class Tenants:
    def __init__(self, demo: Demo) -> None:
        self.demo, self.t = demo, demo.t

    # -- tokens from other tenants ---------------------------------------------------------------

    def tenant(self, name: str) -> dict:
        return dict(self.t.directory["tenants"][name])

    def user_token_response(self, tenant: str, user: str, scope: str) -> requests.Response:
        """A user of ``tenant`` signs in there (password grant through the Azure CLI client, local only)."""
        login = self.tenant(tenant)["users"][user]
        return self.t.request(
            "POST",
            f"/{self.tenant(tenant)['id']}/oauth2/v2.0/token",
            data={
                "grant_type": "password",
                "client_id": AZURE_CLI,
                "scope": scope,
                "username": login["userPrincipalName"],
                "password": login["password"],
            },
        )

    def user_token(self, tenant: str, user: str, scope: str) -> str:
        response = self.user_token_response(tenant, user, scope)
        response.raise_for_status()
        return str(response.json()["access_token"])

    def identity_token(self, tenant: str, identity: str) -> str:
        """The managed identity endpoint serves every tenant's identities; the identity's tenant issues."""
        from azure.identity import ManagedIdentityCredential

        client_id = self.tenant(tenant)["managedIdentities"][identity]["clientId"]
        return ManagedIdentityCredential(client_id=client_id).get_token(f"{API_RESOURCE}/.default").token

    def note(self, tenant: str, user: str) -> dict:
        return self.demo.note(self.tenant(tenant)["users"][user]["id"])

    # -- rows ------------------------------------------------------------------------------------

    def customer_user(self) -> Outcome:
        token = self.user_token("fabrikam", "erin", PROXY_SCOPE)
        response = self.demo.call("GET", "/obo/notifications", token)
        return Outcome(
            "Tenants: erin (fabrikam) lists via the proxy",
            "200",
            str(response.status_code),
            f"exchanged in her tenant, tid={claims(token)['tid'][:8]}…; fabrikam assigned notification.read",
        )

    def customer_identity(self) -> list[Outcome]:
        token = self.identity_token("fabrikam", "fabrikam-sync")
        created = self.demo.call("POST", "/notifications", token, json=self.note("fabrikam", "erin"))
        contoso_app = self.t.identity_token(None, API_RESOURCE)  # caller-app: notification.read in contoso
        hidden = self.demo.call("GET", f"/notifications/{created.json().get('id', 'none')}", contoso_app)
        return [
            Outcome(
                "Tenants: fabrikam-sync (fabrikam MI) creates",
                "201",
                str(created.status_code),
                f"iss=fabrikam, roles={claims(token).get('roles')}",
            ),
            Outcome(
                "Tenants: contoso app reads fabrikam's",
                "404",
                str(hidden.status_code),
                "partition = tid: another tenant's id is not found",
            ),
        ]

    def customer_user_unassigned(self) -> Outcome:
        token = self.user_token("fabrikam", "frank", PROXY_SCOPE)
        response = self.demo.call("GET", "/obo/notifications", token)
        return Outcome(
            "Tenants: frank (fabrikam, unassigned) via proxy",
            "403",
            str(response.status_code),
            problem_reason(response),
        )

    def not_a_customer(self) -> Outcome:
        token = self.user_token("northwind", "mallory", f"{API_RESOURCE}/.default")
        response = self.demo.call("POST", "/notifications", token, json=self.note("northwind", "mallory"))
        reason = "not a customer" if "not a customer" in response.text else problem_reason(response)
        return Outcome(
            "Tenants: mallory (northwind) creates",
            "403",
            str(response.status_code),
            f"{reason}; her own role: {claims(token).get('roles')}",
        )

    def consented_already(self, tenant: str) -> bool:
        """Whether someone gave tailspin an enterprise application since the stack started (docs/emulator.md
        shows how): then there is no "before" to show, and the demo leaves that consent alone."""
        directory = self.t.request("GET", "/admin/directory").json()
        found: dict = next((t for t in directory.get("tenants", []) if t.get("name") == tenant), {})
        return bool(found.get("servicePrincipals"))

    def consent(self) -> list[Outcome]:
        """tailspin has not consented: its admin's token request and its identity's both fail; after
        consent both get tokens, and the API still refuses (tailspin is not on the allow-list)."""
        scope = f"{API_RESOURCE}/.default"
        if self.consented_already("tailspin"):
            why = "tailspin was consented since the stack started; restart it (make run) to see before"
            served = self.demo.call("GET", "/notifications", self.user_token("tailspin", "tom", scope))
            return [
                Outcome("Tenants: tailspin before consent", "AADSTS65001", "skipped", why, skipped=True),
                Outcome("Tenants: tailspin after consent, tom", "403", str(served.status_code), "not a customer"),
            ]
        user_before = self.user_token_response("tailspin", "tom", scope)
        codes = user_before.json().get("error_codes") if not user_before.ok else None
        user_code = f"AADSTS{codes[0]}" if codes else problem_code(user_before.text)
        identity_log = logging.getLogger("azure.identity")
        level = identity_log.level
        identity_log.setLevel(logging.CRITICAL)  # the refusal below is the expected outcome, not a warning
        try:
            self.identity_token("tailspin", "tailspin-sync")
            identity_before = "token issued"
        except ClientAuthenticationError as exc:
            identity_before = problem_code(str(exc))
        finally:
            identity_log.setLevel(level)
        target = {"tenant": "tailspin", "application": "notification-api"}
        self.t.admin("POST", "consent", target)
        try:
            after = self.user_token("tailspin", "tom", scope)
            served = self.demo.call("GET", "/notifications", after)
        finally:
            self.t.admin("DELETE", "consent", target)
        return [
            Outcome(
                "Tenants: tailspin before consent, tom",
                "AADSTS65001",
                user_code if not user_before.ok else "token issued",
                "no enterprise application in tailspin",
            ),
            Outcome(
                "Tenants: tailspin before consent, its MI",
                "AADSTS500011",
                identity_before,
                "the API's service principal is not in tailspin",
            ),
            Outcome(
                "Tenants: tailspin after consent, tom",
                "403",
                str(served.status_code),
                "token issued; the API serves contoso and fabrikam only (not a customer yet)",
            ),
        ]


def scenarios(demo: Demo) -> list[Callable[[], Outcome | list[Outcome]]]:
    rows = Tenants(demo)
    return [
        rows.customer_user,
        rows.customer_identity,
        rows.customer_user_unassigned,
        rows.not_a_customer,
        rows.consent,
    ]
