"""The local stack from one command: everything answers, APPS selects blueprints, shutdown is clean."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import requests

from localdev import running
from tests.e2e.stack import Stack, start_stack, stop_and_check_everything_stopped
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


def test_state_folders_are_the_owners_alone(managed: Stack) -> None:
    """The emulator's folder (keys, secrets) and Azurite's (the notifications' bodies): 0700, files 0600."""
    state, azurite = managed.emulator.state_dir, managed.emulator.state_dir.parent / ".azurite"
    assert any(azurite.rglob("*")), "Azurite wrote nothing yet"
    for folder in (state, azurite):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    opened = [p for p in azurite.rglob("*") if not p.is_symlink() and p.stat().st_mode & 0o077]
    assert opened == []


def test_apps_selects_blueprints_and_sigterm_stops_everything(tmp_path) -> None:
    stack = start_stack(tmp_path, "--apps", "caller_app")
    try:
        assert requests.get(f"{stack.base_url}/health", timeout=10).status_code == 404
    finally:
        stop_and_check_everything_stopped(stack)
    assert not (stack.emulator.state_dir / running.RECORD).exists()  # the record goes with the stack


def localdev_up_refused(port: str, state_dir: Path) -> subprocess.CompletedProcess[str]:
    """``localdev up`` where it must refuse to start: it exits at once, so its output can be read."""
    command = [sys.executable, "-m", "localdev", "up", "--port", port, "--emulator-port", "0", "--storage-port", "0"]
    command += ["--state-dir", str(state_dir)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_a_busy_port_is_a_clear_error_not_a_hang(managed: Stack, tmp_path) -> None:
    port = managed.base_url.rsplit(":", 1)[1].split("/")[0]
    # Not this clone's .emulator as state folder, where a stack of yours may run.
    result = localdev_up_refused(port=port, state_dir=tmp_path)
    assert result.returncode == 2
    assert f"port {port} (functions host) is already in use" in result.stderr


def test_the_stack_records_where_it_answers(managed: Stack) -> None:
    recorded = running.find(managed.emulator.state_dir)
    assert recorded.base_url == managed.base_url
    assert recorded.emulator_url == managed.emulator.origin
    assert recorded.state_dir == managed.emulator.state_dir.resolve()
    assert recorded.pid == managed.process.popen.pid
    assert recorded.settings["IDENTITY_HEADER"] == managed.emulator.env["IDENTITY_HEADER"]


def localdev_exec(stack: Stack, *command: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "localdev", "exec", "--", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LOCALDEV_STATE_DIR": str(stack.emulator.state_dir), **env},
    )


def test_exec_runs_a_command_in_the_stack_environment(managed: Stack) -> None:
    show = "import os, sys; print(os.environ['REQUESTS_CA_BUNDLE'], os.environ['NOTIFICATION_API_URL'], sys.prefix)"
    # The machine's own CA setting would hide the emulator's CA: the stack's settings win.
    result = localdev_exec(managed, "python", "-c", show, REQUESTS_CA_BUNDLE="/etc/ssl/certs/ca-certificates.crt")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [managed.emulator.bundle, managed.base_url, sys.prefix]
    assert localdev_exec(managed, "python", "-c", "raise SystemExit(7)").returncode == 7


def test_exec_gets_a_token_as_the_readme_shows(managed: Stack) -> None:
    result = localdev_exec(
        managed, "python", "-m", "caller_app.get_token", "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api"
    )
    assert result.returncode == 0, result.stderr
    assert "roles" in result.stdout
    assert "notification.read" in result.stdout
    assert result.stderr == ""  # no RuntimeWarning about caller_app.get_token already in sys.modules


def test_exec_without_a_stack_says_how_to_start_one(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "localdev", "exec", "--state-dir", str(tmp_path), "--", "true"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "no running local stack" in result.stderr
    assert "make run" in result.stderr


def test_every_file_in_the_state_folder_is_documented(managed: Stack) -> None:
    table = (ROOT / "docs" / "emulator.md").read_text().split("| file | what it is |", 1)[1].split("\n\n", 1)[0]
    documented = set(re.findall(r"`([^`]+)`", "\n".join(row.split("|")[1] for row in table.splitlines()[2:])))
    written = {path.name for path in managed.emulator.state_dir.iterdir()}
    assert written - documented == set()


def test_a_second_stack_on_the_same_state_folder_is_refused(managed: Stack) -> None:
    result = localdev_up_refused(port="0", state_dir=managed.emulator.state_dir)
    assert result.returncode == 2
    assert "a local stack already runs from" in result.stderr
    assert running.find(managed.emulator.state_dir).pid == managed.process.popen.pid  # its record is untouched
