"""Admin consent: how a customer tenant gets our multi-tenant app (its enterprise application).

A tenant's Global Administrator opens ``/{tenant}/v2.0/adminconsent?client_id&scope&redirect_uri&state``
(or the v1 ``/{tenant}/adminconsent?client_id``), signs in and accepts. Entra then creates the app's
service principal in that tenant, grants the delegated permissions the app registration asks for
(``requiredResourceAccess``) for everyone in the tenant, assigns the application permissions to
the new service principal, and redirects with ``admin_consent=True&tenant=...&state=...``.

Multi-tier consent: an API that lists the client in ``knownClientApplications`` is consented
together with it (its service principal is created too); any other API the client needs must
already exist in the tenant (AADSTS650052). Consents are kept in the state folder, so a restart
keeps them; ``POST /admin/reset`` goes back to directory.json. This module is the rule; the page
and the admin call are in ``consent_page``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from . import errors
from .directory import Application, Directory, Tenant


@dataclass(frozen=True)
class Consented:
    """What one consent did in a tenant."""

    tenant: Tenant
    application: Application
    created: tuple[str, ...]  # applications whose service principals were created (client first)


class ConsentStore:
    """The consents given since directory.json was loaded: ``STATE/consents.json``, [{tenantId, appId}]."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: list[dict[str, str]] = []
        if path.exists():
            try:
                loaded = json.loads(path.read_text())
                self.entries = [e for e in loaded if isinstance(e, dict) and {"tenantId", "appId"} <= e.keys()]
            except (ValueError, TypeError):
                self.entries = []  # a damaged file forgets the consents, as a reset would

    def add(self, tenant: Tenant, app: Application) -> None:
        entry = {"tenantId": tenant.tenant_id, "appId": app.app_id}
        if entry not in self.entries:
            self.entries.append(entry)
            self._save()

    def clear(self) -> None:
        self.entries = []
        self._save()

    def remove(self, tenant: Tenant, app: Application) -> bool:
        entry = {"tenantId": tenant.tenant_id, "appId": app.app_id}
        if entry not in self.entries:
            return False
        self.entries.remove(entry)
        self._save()
        return True

    def replay(self, directory: Directory) -> None:
        """Give the recorded consents again (after a start or a directory reset)."""
        for entry in self.entries:
            tenant, app = directory.tenant_at(entry["tenantId"]), directory.application(entry["appId"])
            if tenant is not None and app is not None:
                try:
                    give(directory, tenant, app)
                except errors.EntraError:
                    continue  # directory.json changed since: that consent no longer applies

    def _save(self) -> None:
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.entries))
        temporary.chmod(0o600)
        os.replace(temporary, self.path)


def give(directory: Directory, tenant: Tenant, app: Application) -> Consented:
    """Consent to ``app`` for the whole of ``tenant``: checks everything first, then changes it."""
    if not (tenant.home or app.multi_tenant):
        raise errors.application_not_found(app.app_id, tenant.tenant_id)
    to_create = [app] if tenant.service_principal_of(app) is None else []
    for access in app.required_access:
        resource = directory.applications_by_name.get(access.resource)
        if resource is None:
            continue  # one of Microsoft's APIs: it exists in every tenant
        if tenant.service_principal_of(resource) is not None or resource in to_create:
            continue
        if app.app_id.lower() in resource.known_clients and resource.multi_tenant:
            to_create.append(resource)  # multi-tier: the API comes with its known client
        else:
            raise errors.resource_missing_for_consent(resource.app_id, resource.display_name, tenant.tenant_id)
    for created in to_create:
        tenant.add_service_principal(created)
    for access in app.required_access:
        if access.scopes:
            tenant.grant(app.app_id, access.resource, list(access.scopes))
        for role in access.roles:
            tenant.assign(app.name, access.resource, role)
    return Consented(tenant, app, tuple(a.name for a in to_create))


def withdraw(directory: Directory, store: ConsentStore, tenant: Tenant, app: Application) -> bool:
    """Take back a consent given since start (as deleting the enterprise application would): the tenant
    goes back to what directory.json says, with its other consents given again. False: none was given."""
    if not store.remove(tenant, app):
        return False
    tenant.reset()
    for entry in store.entries:
        other = directory.application(entry["appId"])
        if entry["tenantId"] == tenant.tenant_id and other is not None:
            try:
                give(directory, tenant, other)
            except errors.EntraError:
                continue
    return True
