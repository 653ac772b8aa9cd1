"""The running local stack, as ``localdev up`` records it, so other commands need no flags.

``localdev up`` writes ``STATE/stack.json`` once every part answers and removes it when it
stops. It holds where the functions host and the emulator answer, the state folder, the
interpreter the host runs on and the settings the host was given on top of the environment.
``localdev demo``, ``localdev exec`` (and anything else that needs the stack) read it with
:func:`find`; a record whose ``localdev up`` process is gone counts as no stack.

The settings include ``IDENTITY_HEADER`` (a local value, like the emulator's ``env`` file), so the
file is readable by its owner only.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

RECORD = "stack.json"
# Where `localdev up` keeps the emulator's state by default; LOCALDEV_STATE_DIR moves it for every
# localdev command at once (a second stack next to yours, or a test's stack).
DEFAULT_STATE_DIR = Path(".emulator")


def default_state_dir() -> Path:
    return Path(os.environ.get("LOCALDEV_STATE_DIR") or DEFAULT_STATE_DIR)


class NoStack(RuntimeError):
    """No running stack at that state folder; the message says how to start one."""


@dataclass(frozen=True)
class RunningStack:
    base_url: str  # http://localhost:7071/api: where the apps answer
    emulator_url: str  # https://localhost:8443: authority, managed identity endpoint, vault
    state_dir: Path  # the emulator's state: env file, CA bundle, this record
    python: str  # the interpreter the functions host (and its worker) runs on
    host: str  # "func start" or "dev host"
    pid: int  # the `localdev up` process
    settings: dict[str, str] = field(default_factory=dict)  # what the host got on top of the environment

    def environment(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """``base`` (default: this process's environment) with the stack's settings applied.

        The settings win over the environment: a machine-wide ``REQUESTS_CA_BUNDLE`` would otherwise
        hide the emulator's CA. The host's interpreter comes first on PATH, as for the host itself.
        """
        env = dict(os.environ if base is None else base)
        env.update(self.settings)
        env["PATH"] = os.pathsep.join(filter(None, (str(Path(self.python).parent), env.get("PATH", ""))))
        return env


def record(stack: RunningStack) -> Path:
    path = stack.state_dir / RECORD
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({**asdict(stack), "state_dir": str(stack.state_dir)}, fh, indent=2)
    temporary.replace(path)  # readers never see half a file
    return path


def clear(state_dir: Path, pid: int) -> None:
    """Remove the record if it is this process's (a second `up` that failed leaves the first's)."""
    path = state_dir / RECORD
    try:
        if json.loads(path.read_text()).get("pid") == pid:
            path.unlink()
    except (OSError, ValueError):
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read(state_dir: Path | None = None) -> RunningStack | None:
    """The stack recorded in ``state_dir`` if its ``localdev up`` is still running, else None."""
    path = (state_dir or default_state_dir()) / RECORD
    try:
        data = json.loads(path.read_text())
        stack = RunningStack(**{**data, "state_dir": Path(data["state_dir"])})
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return stack if _alive(stack.pid) else None


def find(state_dir: Path | None = None) -> RunningStack:
    """Like :func:`read`, but a missing stack is an error that says what to do."""
    state_dir = state_dir or default_state_dir()
    stack = read(state_dir)
    if stack is None:
        raise NoStack(
            f"no running local stack recorded in {state_dir / RECORD}. Start one with `make run` "
            "(or `python -m localdev up`) in another terminal, or pass --state-dir (or set "
            "LOCALDEV_STATE_DIR) to the folder of the stack you started."
        )
    return stack
