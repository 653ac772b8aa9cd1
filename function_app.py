"""The Functions entry point: registers the blueprints named in ``APPS`` (all three by default).

Locally one host serves all three; in Azure each function app sets ``APPS`` to its own blueprint
and imports only that package: the apps talk to each other over HTTP only.
"""

from __future__ import annotations

import importlib
import logging

import azure.functions as func

from appsettings import BLUEPRINTS, all_at_once, developer_credentials, optional, selected_apps
from auth import check_environment
from openapi_document import blueprint as openapi_blueprint

__all__ = ["BLUEPRINTS", "app"]

# Every setting is read now, once: a missing or malformed one stops the host at start instead of
# failing the first request that needs it, and one error names every such setting, not the first.
with all_at_once():
    check_environment()  # DEBUG_ENDPOINTS; in Azure, refuse settings that would trust the local emulator
    developer_credentials()  # AZURE_TOKEN_CREDENTIALS, which the one credential builder reads
    BLUEPRINT_MODULES = [importlib.import_module(name) for name in selected_apps(optional("APPS"))]
    for _blueprint in BLUEPRINT_MODULES:
        _blueprint.settings()  # each app's settings, read into one frozen object

# azure-core logs every HTTP request and response at INFO (headers redacted): that floods the
# Functions log and Application Insights. Its warnings and errors still come through.
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)

# Every route is ANONYMOUS to the Functions host: function keys are not identity. Each route
# authorizes the caller's bearer token itself (see auth/).
app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
OPENAPI_PARTS = []
for _blueprint in BLUEPRINT_MODULES:
    app.register_functions(_blueprint.bp)
    OPENAPI_PARTS.append(_blueprint.OPENAPI)
# GET /api/openapi.json: the routes registered above, described by their blueprints.
app.register_functions(openapi_blueprint(OPENAPI_PARTS))
