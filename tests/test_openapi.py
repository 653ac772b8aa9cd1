"""The OpenAPI document names exactly the routes ``app.get_functions()`` registers, with the
permissions their guards enforce, and is a valid OpenAPI 3.1 document (openapi-spec-validator)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from openapi_spec_validator import validate

from tests.processes import ROOT, sample_settings

# A fresh interpreter per APPS value: get_functions() may be called once per process.
DESCRIBE = """
import json, function_app
from auth.guards import AuthRequirement
from openapi_document import document
routes = []
for f in function_app.app.get_functions():
    if f.get_trigger().get_binding_name() != "httpTrigger":
        continue
    marker = getattr(f.get_user_function(), "__auth__", None)
    if isinstance(marker, AuthRequirement):
        marker = {"role": marker.role, "scope": marker.scope}
    for method in f.get_trigger().methods:
        routes.append({"name": f.get_function_name(), "path": "/" + f.get_trigger().route,
                       "method": str(getattr(method, "value", method)).lower(), "auth": marker})
print(json.dumps({"routes": routes, "document": document(function_app.OPENAPI_PARTS)}))
"""
SETTINGS = {
    **sample_settings(),
    "AZURE_TENANT_ID": "00000000-0000-0000-0000-0000000000aa",
    "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.com",
}


def describe(apps: str) -> tuple[list[dict], dict]:
    env = {**os.environ, **SETTINGS, "APPS": apps}
    result = subprocess.run(
        [sys.executable, "-c", DESCRIBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60
    )
    out = json.loads(result.stdout)
    return out["routes"], out["document"]


@pytest.mark.parametrize("apps", ["", "notification_api", "obo_proxy", "caller_app"])
def test_the_document_names_exactly_the_registered_routes(apps: str) -> None:
    routes, document = describe(apps)
    registered = {(r["path"], r["method"]) for r in routes}
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert registered - documented == set(), "routes missing from the OpenAPI document"
    assert documented - registered == set(), "the OpenAPI document names routes that do not exist"
    validate(document)  # OpenAPI 3.1, every $ref resolvable in this app's document alone


def test_each_operation_states_what_its_guard_enforces() -> None:
    routes, document = describe("")
    schemes = document["components"]["securitySchemes"]
    for route in routes:
        operation = document["paths"][route["path"]][route["method"]]
        assert operation["operationId"] == route["name"]
        auth = route["auth"]
        if auth in ("anonymous", "debug-only"):
            assert operation["security"] == [], route["name"]
            continue
        assert isinstance(auth, dict), f"{route['name']}: no declared requirement"
        granted = [
            scope for requirement in operation["security"] for scopes in requirement.values() for scope in scopes
        ]
        assert any(scope.endswith(f"/{auth['scope']}") for scope in granted), route["name"]
        app_only = any(scope.endswith("/.default") for scope in granted)
        assert app_only == (auth["role"] is not None), f"{route['name']}: app tokens documented wrongly"
        for requirement in operation["security"]:
            for name, scopes in requirement.items():
                flows = schemes[name]["flows"]
                declared = {s for flow in flows.values() for s in flow["scopes"]}
                assert set(scopes) <= declared, route["name"]
        if auth["role"]:
            assert f"`{auth['role']}`" in operation["description"], route["name"]


def test_security_schemes_point_at_the_tenant() -> None:
    _, document = describe("")
    api = document["components"]["securitySchemes"]["notificationApi"]
    authorize = api["flows"]["authorizationCode"]["authorizationUrl"]
    assert authorize == f"{SETTINGS['AZURE_AUTHORITY_HOST']}/{SETTINGS['AZURE_TENANT_ID']}/oauth2/v2.0/authorize"
    assert all(
        scope.startswith("api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/")
        for scope in api["flows"]["authorizationCode"]["scopes"]
    )
    assert "notification.create" in api["description"]


def test_every_error_is_a_problem() -> None:
    _, document = describe("")
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], (path, method, status)
