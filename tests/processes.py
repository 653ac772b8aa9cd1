"""A child process that is ready once it prints a known line (the emulator, the dev host, the stack)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sample_settings() -> dict[str, str]:
    """The app settings of local.settings.sample.json: enough for function_app.py to load."""
    return dict(json.loads((ROOT / "local.settings.sample.json").read_text())["Values"])


class ReadyProcess:
    def __init__(
        self,
        command: list[str],
        ready_prefix: str,
        log_path: Path,
        *,
        env: dict[str, str] | None = None,
        inherit_env: bool = True,
        timeout: float = 60,
        cwd: Path = ROOT,
    ) -> None:
        """``env`` adds to this process's environment, or with ``inherit_env=False`` is the whole of it."""
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            command,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env={**(os.environ if inherit_env else {}), **(env or {})},
            start_new_session=True,
        )
        self.output: list[str] = []
        lines: queue.Queue[str] = queue.Queue()

        stdout = self.popen.stdout
        assert stdout is not None  # stdout=PIPE above

        def drain() -> None:  # keep reading so the child never blocks on a full pipe
            for line in stdout:
                self.output.append(line)
                lines.put(line)
            lines.put("")

        threading.Thread(target=drain, daemon=True).start()
        while True:
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                self.stop()
                raise RuntimeError(
                    f"{command[2:4]} printed no ready line within {timeout:g} s: "
                    f"{''.join(self.output)}{self.log_text()}"
                ) from None
            if not line:
                self.popen.wait(timeout=10)
                raise RuntimeError(
                    f"{command[2:4]} exited ({self.popen.returncode}): {''.join(self.output)}{self.log_text()}"
                )
            if line.startswith(ready_prefix):
                self.ready_line = line.strip()
                return

    def log_text(self) -> str:
        return self.log_path.read_text()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()
        return self.popen.returncode


def fresh_clone(folder: Path) -> Path:
    """The project as a fresh clone sees it (symlinks), without this clone's local settings or state."""
    folder.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in {"local.settings.json", ".emulator", ".azurite", ".git"}:
            (folder / entry.name).symlink_to(entry)
    return folder
