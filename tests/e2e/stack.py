"""The whole local stack as real processes (``python -m localdev up``), or an already running one.

``E2E_BASE_URL=http://localhost:7071/api`` points the e2e tests at a stack you started yourself,
for example ``func start`` with Core Tools; its emulator is found through ``E2E_STATE_DIR``
(default ``.emulator``). Tests that must start or stop processes then skip.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from localdev.stack import local_settings, storage_connection_string
from tests.emulator_process import EmulatorClient
from tests.processes import ROOT, ReadyProcess

READY = "local stack ready: "


@dataclass
class Stack:
    base_url: str
    emulator: EmulatorClient
    started: ReadyProcess | None = None  # None: a stack this run did not start (E2E_BASE_URL)

    @property
    def managed(self) -> bool:
        return self.started is not None

    @property
    def process(self) -> ReadyProcess:
        """The `localdev up` process; only tests that use the `managed` fixture may ask for it."""
        if self.started is None:
            raise RuntimeError("this stack was started outside the test run (E2E_BASE_URL)")
        return self.started

    @property
    def storage_ports(self) -> tuple[int, int, int]:
        found = re.search(r"blob/queue/table on 127\.0\.0\.1:(\d+)/(\d+)/(\d+)", "".join(self.process.output))
        if found is None:
            raise RuntimeError("`localdev up` did not print its storage ports")
        blob, queue, table = (int(port) for port in found.groups())
        return blob, queue, table

    def host_env(self, **overrides: str) -> dict[str, str]:
        """What `localdev up` gives its functions host, for tests that run a host of their own."""
        storage = storage_connection_string(*self.storage_ports)
        return {
            **local_settings(ROOT),
            **self.emulator.env,
            "AzureWebJobsStorage": storage,
            "NotificationStorage": storage,
            "APPS": "notification_api",
            **overrides,
        }


def start_stack(tmp: Path, *args: str, env: dict[str, str] | None = None) -> Stack:
    tmp.mkdir(parents=True, exist_ok=True)
    process = ReadyProcess(
        [
            sys.executable,
            "-m",
            "localdev",
            "up",
            "--port",
            "0",
            "--emulator-port",
            "0",
            "--storage-port",
            "0",
            "--state-dir",
            str(tmp / ".emulator"),
            "--azurite-dir",
            str(tmp / ".azurite"),
            *args,
        ],
        READY,
        tmp / "stack.log",
        env=env,
        timeout=180,
    )
    return Stack(process.ready_line.removeprefix(READY), EmulatorClient(tmp / ".emulator"), process)


def external_stack() -> Stack | None:
    url = os.environ.get("E2E_BASE_URL", "").rstrip("/")
    if not url:
        return None
    return Stack(url, EmulatorClient(Path(os.environ.get("E2E_STATE_DIR", ROOT / ".emulator"))))


def start_host(tmp: Path, env: dict[str, str], *args: str) -> tuple[ReadyProcess, str]:
    """A dev host of its own (to stop, restart or starve of storage), on a free port."""
    process = ReadyProcess(
        [sys.executable, "-m", "localdev", "host", "--port", "0", *args],
        "dev host ready on ",
        tmp / f"host-{os.urandom(3).hex()}.log",
        env=env,
    )
    return process, process.ready_line.removeprefix("dev host ready on ").split()[0]


def descendants(pid: int) -> list[int]:
    children = [
        int(p)
        for p in subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout.split()
    ]
    return children + [d for child in children for d in descendants(child)]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def printed_ports(output: str) -> list[int]:
    """Every port the stack printed (host, emulator, Azurite)."""
    return sorted({int(p) for p in re.findall(r"(?:localhost|127\.0\.0\.1):(\d+)", output)})


def stop_and_check_everything_stopped(stack: Stack) -> str:
    """SIGTERM the stack; every port it printed is free again and no process it started is left."""
    pids = descendants(stack.process.popen.pid)
    assert len(pids) >= 3  # azurite, emulator, host (and whatever they started)
    code = stack.process.stop(signal.SIGTERM)
    output = "".join(stack.process.output)
    assert code == 0, output
    assert "[localdev] stopped" in output
    for port in printed_ports(output):
        with socket.socket() as sock:
            # SO_REUSEADDR: connections the servers closed may sit in TIME_WAIT on their ports; Linux
            # still refuses the bind while anything listens there, which is what this checks.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
    assert [pid for pid in pids if alive(pid)] == []  # no orphans
    return output


def demo_summary() -> str:
    """The demo's closing line when every scenario passes: its five Azure CLI scenarios run where az
    is installed (`make az`, as in CI) and are one skipped row elsewhere."""
    from localdev.azure_cli import AzureCliError, find_az

    try:
        find_az()
    except AzureCliError:
        return "31 passed, 0 failed, 1 skipped"
    return "36 passed, 0 failed"
