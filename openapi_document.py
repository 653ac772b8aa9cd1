"""The OpenAPI 3.1 document of the routes an app serves, at ``GET /api/openapi.json`` (anonymous).

Each blueprint describes its own routes (an ``OPENAPI`` dict next to its ``bp``); ``function_app.py``
hands the parts of the apps it registers to ``blueprint()``. What is shared lives here: the OAuth2
security schemes, built from each app's settings (tenant, authority, the App ID URI among the
audiences), so the document points at the Entra endpoints whose tokens the app accepts; the
problem schema every error uses is in ``web/problems.py``. It sits beside ``function_app.py``, above
``auth/``, because it reads what the guards declare.

A part looks like::

    {"paths": {"/notifications": {...}}, "schemas": {...},
     "security": {"notificationApi": {"auth": lambda: settings().auth,  # tenant, authority, audiences
                                      "scopes": {"Notifications.Read": "..."}, "roles": {...}}}}

Operations name scopes by their short value (``{"notificationApi": ["Notifications.Read"]}``);
the document names them in full (``api://<tenant id>/notification-api/Notifications.Read``), as
clients ask.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable

import azure.functions as func

from auth import AuthSettings, anonymous
from web import Json, json_content
from web.problems import PROBLEM_SCHEMA

APP_ONLY = ".default"  # the scope an app asks for; the token then carries the app roles it holds


def _app_id_uri(audiences: tuple[str, ...]) -> str:
    """The App ID URI among the accepted audiences (clients put it before the scope's value)."""
    return next((a for a in audiences if "://" in a), audiences[0])


def _scheme(spec: Json) -> tuple[Json, str]:
    settings: AuthSettings = spec["auth"]()
    uri = _app_id_uri(settings.audiences)
    authority = f"{settings.authority_host}/{settings.tenant_id}"
    roles = "".join(f"\n- `{role}`: {text}" for role, text in spec.get("roles", {}).items())
    description = (
        "Microsoft Entra ID access tokens (RS256, v1 or v2), validated against the tenant's published keys. "
        "A user's token (authorization code flow) is authorized by its delegated scope *and* the user's "
        "app role; an app's token (client credentials or managed identity, scope `.default`) by its app role."
    )
    if roles:
        description += f"\n\nApp roles:{roles}"
    scopes = {f"{uri}/{value}": text for value, text in spec["scopes"].items()}
    flows = {
        "authorizationCode": {
            "authorizationUrl": f"{authority}/oauth2/v2.0/authorize",
            "tokenUrl": f"{authority}/oauth2/v2.0/token",
            "scopes": scopes,
        }
    }
    if spec.get("roles"):
        flows["clientCredentials"] = {
            "tokenUrl": f"{authority}/oauth2/v2.0/token",
            "scopes": {f"{uri}/{APP_ONLY}": "The app roles assigned to the calling app or managed identity."},
        }
    return {"type": "oauth2", "description": description, "flows": flows}, uri


def _qualified(operation: Json, uris: dict[str, str]) -> Json:
    if "security" in operation:
        operation["security"] = [
            {name: [f"{uris[name]}/{scope}" for scope in scopes] for name, scopes in requirement.items()}
            for requirement in operation["security"]
        ]
    return operation


def document(parts: Iterable[Json], *, title: str = "Notification API and on-behalf-of proxy") -> Json:
    """The OpenAPI 3.1 document of ``parts``, with security schemes from the apps' settings."""
    paths: dict[str, Json] = {}
    schemas: dict[str, Json] = {"Problem": PROBLEM_SCHEMA}
    schemes: dict[str, Json] = {}
    uris: dict[str, str] = {}
    for part in parts:
        for name, spec in part.get("security", {}).items():
            schemes[name], uris[name] = _scheme(spec)
        schemas.update(copy.deepcopy(part.get("schemas", {})))
        for path, item in copy.deepcopy(part.get("paths", {})).items():
            paths.setdefault(path, {}).update({m: _qualified(op, uris) for m, op in item.items()})
    paths["/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "description": "Anonymous, and holds no data: the routes, their permissions and their errors.",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1", "content": json_content({"type": "object"})}},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": "1",
            "description": "Service-to-service and on-behalf-of calls secured with Microsoft Entra ID. "
            "Every error is `application/problem+json` (RFC 9457). See the README for the walkthrough.",
        },
        "servers": [{"url": "/api"}],
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": schemas, "securitySchemes": schemes},
    }


def blueprint(parts: list[Json]) -> func.Blueprint:
    """A blueprint serving ``document(parts)`` at ``GET /api/openapi.json``."""
    bp = func.Blueprint()

    @bp.route(route="openapi.json", methods=["GET"])
    @anonymous
    def openapi(req: func.HttpRequest) -> func.HttpResponse:
        """Anonymous on purpose: the shape of the API, no data (settings are read per call: cheap)."""
        return func.HttpResponse(json.dumps(document(parts)), mimetype="application/json")

    return bp
