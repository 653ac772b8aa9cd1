"""The local stack from one command: everything answers, APPS selects blueprints, shutdown is clean."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys

import requests

from tests.e2e.stack import Stack, start_stack
from tests.processes import ROOT


def test_health_is_anonymous_and_says_nothing_else(stack: Stack) -> None:
    response = requests.get(f"{stack.base_url}/health", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_stack_prints_every_service(managed: Stack) -> None:
    output = "".join(managed.process.output)
    assert "[emulator] emulator ready on https://127.0.0.1:" in output
    assert "[localdev] azurite   blob/queue/table on 127.0.0.1:" in output
    assert re.search(r"\[localdev\] host +(func start|dev host \(no Core Tools\)) on http://localhost:\d+/api", output)


def test_the_stack_emulator_answers_over_tls(managed: Stack) -> None:
    # The emulator the stack started is the one its env file names.
    response = managed.emulator.session.get(f"{managed.emulator.authority}/v2.0/.well-known/openid-configuration")
    assert response.status_code == 200


def _descendants(pid: int) -> list[int]:
    children = [
        int(p)
        for p in subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout.split()
    ]
    return children + [d for child in children for d in _descendants(child)]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _ports(output: str) -> list[int]:
    """Every port the stack printed (host, emulator, Azurite)."""
    return sorted({int(p) for p in re.findall(r"(?:localhost|127\.0\.0\.1):(\d+)", output)})


def test_apps_selects_blueprints_and_sigterm_stops_everything(tmp_path) -> None:
    stack = start_stack(tmp_path, "--apps", "caller_app")
    try:
        assert requests.get(f"{stack.base_url}/health", timeout=10).status_code == 404
        pids = _descendants(stack.process.popen.pid)
        assert len(pids) >= 3  # azurite, emulator, host (and whatever they started)
        ports = _ports("".join(stack.process.output))
    finally:
        code = stack.process.stop(signal.SIGTERM)
    assert code == 0
    assert "[localdev] stopped" in "".join(stack.process.output)
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # raises if a child still listens
    assert [pid for pid in pids if _alive(pid)] == []  # no orphans


def test_a_busy_port_is_a_clear_error_not_a_hang(managed: Stack) -> None:
    port = managed.base_url.rsplit(":", 1)[1].split("/")[0]
    result = subprocess.run(
        [sys.executable, "-m", "localdev", "up", "--port", port, "--emulator-port", "0", "--storage-port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"port {port} (functions host) is already in use" in result.stderr
