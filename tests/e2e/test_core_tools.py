"""`localdev up` with Core Tools: `func start`, its Python worker on localdev's own interpreter.

Core Tools cannot be installed here, so ``tests/localdev/core_tools/func`` stands in for it and
keeps the rules that decide whether a Python app comes up: local.settings.json Values only where
the environment lacks them, FUNCTIONS_WORKER_RUNTIME and AzureWebJobsStorage required, and the
worker on ``languageWorkers__python__defaultExecutablePath`` or else the first ``python3`` on PATH.
PATH starts with a bare interpreter, as on a laptop where the venv was not activated.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import requests

from localdev.stack import free_port
from tests.e2e.stack import READY, Stack, start_stack, stop_and_check_everything_stopped
from tests.emulator_process import EmulatorClient
from tests.processes import ROOT, ReadyProcess, fresh_clone, sample_settings

STAND_IN = ROOT / "tests" / "localdev" / "core_tools"


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with nothing installed: a Python without the project's packages."""
    folder = tmp_path_factory.mktemp("bare") / "venv"
    venv.create(folder, with_pip=False)
    python = folder / "bin" / "python3"
    missing = subprocess.run([python, "-c", "import azure.functions"], capture_output=True, text=True, timeout=30)
    assert missing.returncode != 0  # else this test would prove nothing
    return python


# A developer's shell defines none of the app settings: local.settings.json does. (This test session's
# emulator fixture puts some in os.environ, and func would then skip them from local settings.)
APP_SETTINGS = set(sample_settings())


def laptop_env(bare_python: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("languageWorkers") and k not in APP_SETTINGS}
    env["PATH"] = os.pathsep.join((str(bare_python.parent), str(STAND_IN), os.environ["PATH"]))
    return {**env, **extra}


def stand_in(bare_python: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(STAND_IN / "func"), "start", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env=laptop_env(bare_python, **env),
    )


def test_the_stand_in_worker_takes_the_first_python3_on_path(bare_python: Path) -> None:
    """Without the setting, the bare interpreter is the worker and no function loads: the trap."""
    storage = "UseDevelopmentStorage=true"
    result = stand_in(bare_python, ROOT, "--port", "0", FUNCTIONS_WORKER_RUNTIME="python", AzureWebJobsStorage=storage)
    assert result.returncode == 1
    assert f"Python worker: {bare_python}" in result.stdout
    assert "ModuleNotFoundError" in result.stderr
    assert "no function loaded" in result.stdout


def test_the_stand_in_applies_local_settings_only_where_the_environment_lacks_them(
    bare_python: Path, tmp_path: Path
) -> None:
    (tmp_path / "local.settings.json").write_text(
        '{"Values": {"FUNCTIONS_WORKER_RUNTIME": "python", "APPS": "caller_app", "AzureWebJobsStorage": ""}}'
    )
    result = stand_in(bare_python, tmp_path, APPS="notification_api")
    assert "Skipping 'APPS' from local settings" in result.stdout
    assert "Skipping 'FUNCTIONS_WORKER_RUNTIME'" not in result.stdout  # from the file: the runtime check passes
    assert result.returncode == 1
    assert "Missing value for AzureWebJobsStorage" in result.stdout


def test_the_stand_in_requires_the_python_runtime(bare_python: Path, tmp_path: Path) -> None:
    result = stand_in(bare_python, tmp_path, FUNCTIONS_WORKER_RUNTIME="node", AzureWebJobsStorage="x")
    assert result.returncode == 1
    assert "FUNCTIONS_WORKER_RUNTIME=python" in result.stdout


def test_localdev_up_runs_func_start_with_the_worker_on_its_own_interpreter(bare_python: Path, tmp_path: Path) -> None:
    # The machine's CA settings are in the environment too, as on this machine: the stack's must win.
    env = laptop_env(bare_python, REQUESTS_CA_BUNDLE="/etc/ssl/certs/ca-certificates.crt", SSL_CERT_FILE="/nonexistent")
    stack = start_stack(tmp_path, env=env)
    try:
        output = "".join(stack.process.output)
        assert "[localdev] host      func start on" in output
        assert f"[func] Python worker: {sys.executable}" in output
        assert "Skipping" not in output  # every setting reached the host
        assert requests.get(f"{stack.base_url}/health", timeout=10).status_code == 200
        # The caller reaches the emulator (CA trust, identity header) and then the API with that token.
        listed = requests.get(f"{stack.base_url}/caller/notifications", timeout=60)
        assert listed.status_code == 200, listed.text
        secret = requests.get(f"{stack.base_url}/caller/secret", timeout=60)
        assert secret.status_code == 200, secret.text
    finally:
        stop_and_check_everything_stopped(stack)


def consecutive_free_ports() -> int:
    """A port whose next two are free too: Azurite's blob, queue and table, as `localdev settings` assumes."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            first = sock.getsockname()[1]
        try:
            for port in (first + 1, first + 2):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first
    raise RuntimeError("no three consecutive free ports")


def test_the_readme_core_tools_steps_with_a_plain_func_start(bare_python: Path, tmp_path: Path) -> None:
    """Activate the venv, Azurite and the emulator running, `localdev settings`, `func start`."""
    storage = consecutive_free_ports()
    services = start_stack(tmp_path / "services", "--apps", "caller_app", "--storage-port", str(storage))
    clone = fresh_clone(tmp_path / "clone")
    port = free_port()
    # A new terminal: nothing of this test run's environment, but the CA variables this machine sets,
    # which the user unsets, as `localdev settings` says to.
    shell = {
        "HOME": os.environ.get("HOME", "/root"),
        "PATH": laptop_env(bare_python)["PATH"],
        "REQUESTS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt",
        "SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt",
    }
    steps = (
        "unset REQUESTS_CA_BUNDLE SSL_CERT_FILE && source .venv/bin/activate && "
        f"python -m localdev settings --port {port} --storage-port {storage} --state-dir {services.emulator.state_dir}"
        " && exec func start"
    )
    host = ReadyProcess(
        ["bash", "-c", steps],
        "dev host ready on ",
        tmp_path / "func.log",
        env=shell,
        inherit_env=False,
        cwd=clone,
    )
    try:
        output = "".join(host.output)
        assert f"wrote local.settings.json: host port {port}" in output, output
        worker_line = re.search(r"^Python worker: (.*)$", output, re.M)
        assert worker_line, output
        worker = worker_line.group(1)
        assert worker.endswith("/.venv/bin/python3")  # the activated venv, not the bare python3 first on PATH
        assert "Skipping" not in output
        base = f"http://localhost:{port}/api"
        assert requests.get(f"{base}/health", timeout=10).status_code == 200
        # The caller reaches the emulator, then the API, with the file's values only.
        listed = requests.get(f"{base}/caller/notifications", timeout=60)
        assert listed.status_code == 200, listed.text
    finally:
        host.stop()
        services.process.stop()


def test_localdev_up_leaves_to_local_settings_json_what_it_already_holds(bare_python: Path, tmp_path: Path) -> None:
    """Your local.settings.json (from `localdev settings`, plus a Value of yours) and the machine's CA
    variables in the shell: func still gets every setting right and prints no "Skipping" line."""
    clone = fresh_clone(tmp_path / "clone")
    (clone / "localdev").unlink()  # a copy, so that localdev's project root is this clone and its settings file
    shutil.copytree(ROOT / "localdev", clone / "localdev", ignore=shutil.ignore_patterns("__pycache__"))
    port, emulator_port, storage = free_port(), free_port(), consecutive_free_ports()
    machine_ca = "/etc/ssl/certs/ca-certificates.crt"
    env = laptop_env(bare_python, REQUESTS_CA_BUNDLE=machine_ca, SSL_CERT_FILE=machine_ca)
    up = [
        *(sys.executable, "-m", "localdev", "up", "--port", str(port)),
        *("--emulator-port", str(emulator_port), "--storage-port", str(storage)),
    ]

    def start(log: str) -> Stack:
        process = ReadyProcess(up, READY, tmp_path / log, env=env, inherit_env=False, cwd=clone, timeout=180)
        return Stack(process.ready_line.removeprefix(READY), EmulatorClient(clone / ".emulator"), process)

    start("first.log").process.stop()  # the emulator's state: CA, identity header, env file
    written = subprocess.run(
        [sys.executable, "-m", "localdev", "settings", "--port", str(port), "--storage-port", str(storage)],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert written.returncode == 0, written.stderr
    settings_file = clone / "local.settings.json"
    document = json.loads(settings_file.read_text())
    document["Values"]["MY_SETTING"] = "mine"
    settings_file.write_text(json.dumps(document))

    stack = start("second.log")
    try:
        output = "".join(stack.process.output)
        assert "[localdev] host      func start on" in output
        assert "Skipping" not in output
        assert requests.get(f"{stack.base_url}/health", timeout=10).status_code == 200
        # The CA bundle came from the file (the machine's value was taken out of func's environment).
        listed = requests.get(f"{stack.base_url}/caller/notifications", timeout=60)
        assert listed.status_code == 200, listed.text
    finally:
        stop_and_check_everything_stopped(stack)
