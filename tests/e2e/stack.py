"""The whole local stack as real processes (``python -m localdev up``), or an already running one.

``E2E_BASE_URL=http://localhost:7071/api`` points the e2e tests at a stack you started yourself,
for example ``func start`` with Core Tools; its emulator is found through ``E2E_STATE_DIR``
(default ``.emulator``). Tests that must start or stop processes then skip.
"""

from __future__ import annotations

import os
import re
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


def start_stack(tmp: Path, *args: str) -> Stack:
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
