"""Nothing is reachable by default: every HTTP function is guarded or explicitly anonymous."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.processes import ROOT, sample_settings

# Run in a fresh interpreter: get_functions() may be called once per process.
LIST_FUNCTIONS = """
import json, function_app
from auth.guards import requirement_of
out = []
for f in function_app.app.get_functions():
    marker = requirement_of(f.get_user_function())
    out.append({"name": f.get_function_name(), "trigger": f.get_trigger().get_binding_name(),
                "auth": marker if marker is None or isinstance(marker, str) else repr(marker)})
print(json.dumps(out))
"""


def functions() -> list[dict]:
    result = subprocess.run(
        [sys.executable, "-c", LIST_FUNCTIONS],
        cwd=ROOT,
        env={**os.environ, **sample_settings()},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(result.stdout)


def test_every_http_function_declares_its_requirement() -> None:
    http = [f for f in functions() if f["trigger"] == "httpTrigger"]
    assert http, "no HTTP functions found: is function_app.py importable?"
    unguarded = [f["name"] for f in http if f["auth"] is None]
    assert unguarded == [], f"routes without @<authorizer>.requires(...), @debug_only or @anonymous: {unguarded}"


def test_open_and_debug_routes_are_the_known_ones() -> None:
    found = functions()
    assert sorted(f["name"] for f in found if f["auth"] == "anonymous") == ["health", "openapi"]
    assert sorted(f["name"] for f in found if f["auth"] == "debug-only") == [
        "caller_create",
        "caller_list",
        "caller_secret",
        "caller_token",
    ]
