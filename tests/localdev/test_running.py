"""The stack record other commands find the stack by, and how settings reach `func start`."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from localdev import running
from localdev.stack import StackError, apps_of, without_skipping, worker_environment


def a_stack(state_dir: Path, pid: int | None = None, **settings: str) -> running.RunningStack:
    return running.RunningStack(
        base_url="http://localhost:7072/api",
        emulator_url="https://localhost:8444",
        state_dir=state_dir,
        python="/opt/venv/bin/python",
        host="dev host",
        pid=os.getpid() if pid is None else pid,
        settings=settings,
    )


def test_a_recorded_stack_reads_back_and_only_its_owner_can_read_it(tmp_path: Path) -> None:
    path = running.record(a_stack(tmp_path, IDENTITY_HEADER="local-value"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert running.find(tmp_path) == a_stack(tmp_path, IDENTITY_HEADER="local-value")


def test_a_record_whose_process_is_gone_is_no_stack(tmp_path: Path) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    running.record(a_stack(tmp_path, pid=int(finished.stdout)))  # as after `kill -9` of `localdev up`
    assert running.read(tmp_path) is None
    with pytest.raises(running.NoStack, match="make run"):
        running.find(tmp_path)


def test_no_record_and_a_broken_record_say_how_to_start_the_stack(tmp_path: Path) -> None:
    with pytest.raises(running.NoStack, match=r"no running local stack recorded in .*stack\.json"):
        running.find(tmp_path)
    (tmp_path / running.RECORD).write_text("{not json")
    assert running.read(tmp_path) is None


def test_clear_removes_only_its_own_record(tmp_path: Path) -> None:
    running.record(a_stack(tmp_path))
    running.clear(tmp_path, os.getpid() + 1)  # a second `up` that failed must not remove the first's
    assert running.read(tmp_path) is not None
    running.clear(tmp_path, os.getpid())
    assert not (tmp_path / running.RECORD).exists()


def test_the_state_folder_follows_localdev_state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("LOCALDEV_STATE_DIR", raising=False)
    assert running.default_state_dir() == Path(".emulator")
    monkeypatch.setenv("LOCALDEV_STATE_DIR", str(tmp_path))
    assert running.default_state_dir() == tmp_path


def test_the_stack_environment_beats_the_machine_and_puts_its_python_first(tmp_path: Path) -> None:
    stack = a_stack(tmp_path, REQUESTS_CA_BUNDLE="/state/ca-bundle.pem")
    env = stack.environment({"REQUESTS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt", "PATH": "/usr/bin", "X": "1"})
    assert env["REQUESTS_CA_BUNDLE"] == "/state/ca-bundle.pem"
    assert env["PATH"] == f"/opt/venv/bin{os.pathsep}/usr/bin"
    assert env["X"] == "1"


def test_the_worker_runs_on_the_given_interpreter_unresolved() -> None:
    env = worker_environment("/work/.venv/bin/python", {"PATH": "/usr/bin:/bin"})
    # A venv's python is a symlink to the bare interpreter: resolving it would lose the venv.
    assert env["languageWorkers__python__defaultExecutablePath"] == "/work/.venv/bin/python"
    assert env["PATH"].split(os.pathsep)[0] == "/work/.venv/bin"


def test_settings_reach_func_without_a_skipping_line() -> None:
    machine = {"REQUESTS_CA_BUNDLE": "/etc/ssl/system.pem", "HOME": "/root"}
    settings = {"REQUESTS_CA_BUNDLE": "/s/ca-bundle.pem", "APPS": "", "AzureWebJobsStorage": "conn-on-10003"}
    file_values = {"REQUESTS_CA_BUNDLE": "/s/ca-bundle.pem", "APPS": "", "AzureWebJobsStorage": "conn-on-10000"}
    env = without_skipping(machine, settings, file_values)
    # What Core Tools then does: a file value applies only where the environment lacks the name.
    host = {**{k: v for k, v in file_values.items() if k not in env}, **env}
    skipped = [k for k in file_values if k in env]
    assert {k: host[k] for k in settings} == settings
    assert skipped == ["AzureWebJobsStorage"]  # only where the file is wrong for this stack
    assert host["HOME"] == "/root"


def test_apps_is_read_by_the_app_rule() -> None:
    assert apps_of("") == ["notification_api", "caller_app", "obo_proxy"]
    assert apps_of(" caller_app ,caller_app") == ["caller_app"]
    with pytest.raises(StackError, match="unknown app"):
        apps_of("notification_api_v2")  # a substring match would have taken it for notification_api


def localdev_exec(state_dir: Path, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "localdev", "exec", "--state-dir", str(state_dir), *command],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_exec_without_a_command_or_with_a_missing_one_says_so(tmp_path: Path) -> None:
    running.record(a_stack(tmp_path))  # this test's process stands in for a running `localdev up`
    empty = localdev_exec(tmp_path, "--")
    assert empty.returncode == 2
    assert "no command" in empty.stderr
    missing = localdev_exec(tmp_path, "--", "no-such-command-anywhere")
    assert missing.returncode == 127
    assert "cannot run no-such-command-anywhere" in missing.stderr
