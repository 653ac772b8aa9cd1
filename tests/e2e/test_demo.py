"""The guided demo runs every scenario against the stack; any FAIL makes it exit non-zero."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from localdev import running
from tests.e2e.stack import Stack, demo_summary
from tests.processes import ROOT


def demo(stack: Stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "localdev", "demo", "--state-dir", str(stack.emulator.state_dir), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_every_scenario_passes(stack: Stack) -> None:
    # A stack `localdev up` started is found through its record: no --base-url needed.
    result = demo(stack) if stack.managed else demo(stack, "--base-url", stack.base_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert demo_summary() in result.stdout
    shown = " ".join(result.stdout.split())  # the table wraps its text at 80 columns
    if "skipped" not in demo_summary():
        assert "Developer: carol creates" in shown
        assert "Az consent: pre-authorized again" in shown
    else:  # the five Azure CLI scenarios are one skipped row, saying how to install az
        assert "make az" in shown
    assert f"Auth patterns against {stack.base_url}" in result.stdout
    for scenario in (
        "S2S: caller-app creates without the role",
        "Cache trap workaround",
        "AADSTS50105",
        "AADSTS65001",
        "Consent: fixed by pre-authorization",
        "signature does not verify",
        "Key roll, planned: add, use, retire",
        "Key roll, emergency: cached token",
        "Portal: alice restarts prod",
        "restart/action needs Website Contributor",
        "403 → 200",
        "Tenants: erin (fabrikam) lists via the proxy",
        "not a customer",
        "AADSTS500011",
    ):
        assert scenario in shown, scenario


class NotTheApi(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args) -> None:
        pass


def test_a_failing_scenario_fails_the_run(stack: Stack) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), NotTheApi)  # answers, but every app scenario fails
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = demo(stack, "--base-url", f"http://127.0.0.1:{server.server_address[1]}/api")
    finally:
        server.shutdown()
    assert result.returncode == 1
    failed = re.search(r"(\d+) passed, (\d+) failed", result.stdout)
    assert "FAIL" in result.stdout
    assert failed
    assert int(failed.group(2)) > 0


def test_nothing_answering_is_one_clear_message(stack: Stack, tmp_path) -> None:
    # A recorded stack that no longer answers (its host crashed): the demo goes where the record says.
    running.record(
        running.RunningStack(
            base_url="http://127.0.0.1:9/api",
            emulator_url=stack.emulator.origin,
            state_dir=tmp_path,
            python=sys.executable,
            host="dev host",
            pid=os.getpid(),
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "localdev", "demo", "--state-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stdout == ""  # no table of connection errors
    assert "nothing answers at http://127.0.0.1:9/api" in result.stderr
    assert "make run" in result.stderr
    assert "--base-url" in result.stderr
    explicit = demo(stack, "--base-url", "http://127.0.0.1:9/api")
    assert explicit.returncode == 2
    assert "nothing answers at http://127.0.0.1:9/api" in explicit.stderr
    assert "make run" not in explicit.stderr  # the flag was given: the advice is about the URL
