"""The whole local stack as real processes (``python -m localdev up``), or an already running host.

``E2E_BASE_URL=http://localhost:7071/api`` points the e2e tests at a stack you started yourself,
for example ``func start`` with Core Tools; tests that must control processes then skip.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.processes import ReadyProcess

READY = "local stack ready: "


@dataclass
class Stack:
    base_url: str
    process: ReadyProcess | None = None
    state_dir: Path | None = None

    @property
    def managed(self) -> bool:
        return self.process is not None


def start_stack(tmp: Path, *args: str) -> Stack:
    process = ReadyProcess(
        [sys.executable, "-m", "localdev", "up", "--port", "0", "--emulator-port", "0", "--storage-port", "0",
         "--state-dir", str(tmp / ".emulator"), "--azurite-dir", str(tmp / ".azurite"), *args],
        READY, tmp / "stack.log", timeout=180)
    return Stack(process.ready_line.removeprefix(READY), process, tmp / ".emulator")


def external_stack() -> Stack | None:
    url = os.environ.get("E2E_BASE_URL", "").rstrip("/")
    return Stack(url) if url else None
