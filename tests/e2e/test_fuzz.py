"""schemathesis against the local stack, from the served OpenAPI document: examples, coverage and
fuzzing phases, with a real create-capable token (build-agents). No answer may be a 5xx, and
every answer must match the document (status, content type, schema). Time-boxed by
``--max-examples`` per operation and ``--max-time``; loopback only."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests
from azure.identity import ManagedIdentityCredential
from openapi_spec_validator import validate

from tests.e2e.stack import Stack

API = "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/.default"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "25"))
MAX_TIME = int(os.environ.get("FUZZ_MAX_TIME", "80"))  # seconds for all runs together


def test_the_served_document_is_valid_and_anonymous(stack: Stack) -> None:
    response = requests.get(f"{stack.base_url}/openapi.json", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    validate(document)
    authorize = document["components"]["securitySchemes"]["notificationApi"]["flows"]["authorizationCode"]
    assert authorize["authorizationUrl"] == f"{stack.emulator.authority}/oauth2/v2.0/authorize"


# (who, which operations, seconds): the create-capable identity the issue asks for on everything
# but the proxy, then a reader and a user so the read and on-behalf-of routes get past their guards.
RUNS = {
    "build-agents": ("--exclude-path-regex=obo/", 0.45),
    "caller-app": ("--include-path-regex=^(/api)?/notifications", 0.25),
    "carol via the proxy": ("--include-path-regex=obo/", 0.30),
}


def _token(stack: Stack, who: str) -> str:
    if who == "carol via the proxy":
        return stack.emulator.user_token("carol", "api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/access_as_user")
    client_id = None if who == "caller-app" else stack.emulator.identity(who)["clientId"]
    return ManagedIdentityCredential(client_id=client_id).get_token(API).token


@pytest.mark.parametrize("who", RUNS)
def test_schemathesis_finds_no_server_error_and_no_drift(stack: Stack, monkeypatch, tmp_path, who: str) -> None:
    stack.emulator.activate(monkeypatch)
    token = _token(stack, who)
    selection, share = RUNS[who]
    seconds = max(5, int(MAX_TIME * share))
    command = [
        os.path.join(os.path.dirname(sys.executable), "schemathesis"),
        "run",
        f"{stack.base_url}/openapi.json",
        selection,
        "--phases=examples,coverage,fuzzing",
        f"--checks={CHECKS}",
        f"--max-examples={MAX_EXAMPLES}",
        f"--max-time={seconds}",
        "--workers=1",
        "--seed=11",
        "--request-timeout=30",
        "--no-color",
        f"--report-dir={tmp_path}",
        "--header",
        f"Authorization: Bearer {token}",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120, cwd=tmp_path)
    output = (result.stdout + result.stderr).replace(token, "<token>")
    print(output[-3000:])  # shown with -s: what was tested
    assert result.returncode == 0, output[-6000:]
