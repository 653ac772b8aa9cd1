"""``python -m localdev up``: Azurite, the emulator and the functions host, started, watched, stopped.

Each child runs in its own process group so that stopping the stack also stops what a child
started (``func start`` starts a language worker). Ctrl-C or SIGTERM stops all of them, newest
first; if one child dies, the others are stopped too and the exit status says which. Once every
part answers, the stack is recorded in its state folder (``running.py``) for the other commands.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import requests

from appsettings import selected_apps

from . import azure_cli, running

ROOT = Path(__file__).resolve().parents[1]
AZURITE = ROOT / "node_modules" / ".bin" / "azurite"
# Azurite's well-known development account. Microsoft publishes this key for every developer's
# emulator; it opens nothing in Azure. Needed only when Azurite runs on non-default ports, where
# "UseDevelopmentStorage=true" cannot be used.
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DEFAULT_STORAGE_PORTS = (10000, 10001, 10002)


def private_folder(folder: Path) -> None:
    """``folder`` and everything already in it readable by the owner only (0700 folders, 0600 files),
    including what an older run created with the default umask."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    for path in folder.rglob("*"):
        if not path.is_symlink():
            path.chmod(0o700 if path.is_dir() else 0o600)


class StackError(RuntimeError):
    """Something the user can fix (a busy port, a missing tool); printed as one line, exit 2."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Whether the servers could listen on ``port``: probed as they bind, with ``SO_REUSEADDR``.

    Without it, a port a stack stopped a moment ago looks busy for about a minute: the connections
    its server closed sit in TIME_WAIT on that port, although nothing listens. uvicorn, the
    emulator and Azurite all set ``SO_REUSEADDR`` and would start; only a listening socket stops them.
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def next_free(start: int, count: int = 1, taken: frozenset[int] = frozenset()) -> int:
    """The first port from ``start`` on where ``count`` consecutive ports are free (a suggestion)."""
    for first in range(start, min(start + 200, 65536 - count)):
        ports = range(first, first + count)
        if not taken.intersection(ports) and all(port_is_free(p) for p in ports):
            return first
    return 0  # none nearby: any free port


def claim_ports(port: int, emulator_port: int, storage_port: int) -> tuple[int, int, tuple[int, int, int]]:
    """The ports to use (0: any free port). A busy one is an error now rather than a hang later, and
    the error names every busy port and the command that moves the stack to free ones."""
    storage = (storage_port, storage_port + 1, storage_port + 2) if storage_port else ()
    wanted = [(port, "functions host"), (emulator_port, "emulator")]
    wanted += [(p, f"Azurite {kind}") for p, kind in zip(storage, ("blob", "queue", "table"), strict=False)]
    busy = [f"{p} ({what})" for p, what in wanted if p and not port_is_free(p)]
    if busy:
        taken = {p for p, _ in wanted if p}
        host, emulator, blob = port, emulator_port, storage_port
        if host and not port_is_free(host):
            host = next_free(host + 1, taken=frozenset(taken))
            taken.add(host)
        if emulator and not port_is_free(emulator):
            emulator = next_free(emulator + 1, taken=frozenset(taken))
            taken.add(emulator)
        if blob and not all(port_is_free(p) for p in storage):
            blob = next_free(blob + 3, 3, frozenset(taken))
        several = len(busy) > 1
        raise StackError(
            f"{'ports' if several else 'port'} {', '.join(busy)} {'are' if several else 'is'} already in use: "
            "another program listens there (another `make run`?). Stop it, or move this stack: "
            f"make run PORT={host} EMULATOR_PORT={emulator} STORAGE_PORT={blob} "
            "(0: any free port; python -m localdev up takes --port, --emulator-port, --storage-port)"
        )
    return (
        port or free_port(),
        emulator_port or free_port(),
        (storage[0], storage[1], storage[2]) if storage else (free_port(), free_port(), free_port()),
    )


INSPECTED_SETTINGS = ("NOTIFICATION_API_ALLOWED_TENANTS", "OBO_ALLOWED_TENANTS")


def storage_connection_string(blob: int, queue: int, table: int) -> str:
    if (blob, queue, table) == DEFAULT_STORAGE_PORTS:
        return "UseDevelopmentStorage=true"
    return (
        f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{blob}/{DEV_ACCOUNT};QueueEndpoint=http://127.0.0.1:{queue}/{DEV_ACCOUNT};"
        f"TableEndpoint=http://127.0.0.1:{table}/{DEV_ACCOUNT};"
    )


def apps_of(apps: str) -> list[str]:
    """The blueprints ``APPS`` selects, read by the app's own rule (an unknown name is an error now)."""
    try:
        return selected_apps(apps)
    except ValueError as exc:
        raise StackError(str(exc)) from None


def settings_file_values(path: Path) -> dict[str, str]:
    """The Values of a local.settings.json (empty when there is none)."""
    if not path.exists():
        return {}
    return {k: str(v) for k, v in json.loads(path.read_text()).get("Values", {}).items()}


def local_settings(root: Path) -> dict[str, str]:
    """The sample's values, overlaid with the user's local.settings.json when there is one."""
    return {
        **settings_file_values(root / "local.settings.sample.json"),
        **settings_file_values(root / "local.settings.json"),
    }


def worker_environment(python: str, env: dict[str, str]) -> dict[str, str]:
    """Make Core Tools start the Python worker on ``python`` (the interpreter running localdev).

    Core Tools takes ``languageWorkers__python__defaultExecutablePath`` if set, else the first
    ``python3`` on PATH: without this, a venv that is not activated is not the worker's, and no
    function loads (its packages are missing). The interpreter's folder also goes first on PATH
    for tools that look there. The path is not resolved: a venv's ``python`` is a symlink whose
    target is the bare interpreter.
    """
    return {
        **env,
        "languageWorkers__python__defaultExecutablePath": python,
        "PATH": os.pathsep.join(filter(None, (str(Path(python).parent), env.get("PATH", "")))),
    }


def without_skipping(env: dict[str, str], settings: dict[str, str], file_values: dict[str, str]) -> dict[str, str]:
    """The environment for ``func start`` so that ``settings`` reach the host with no "Skipping" line.

    Core Tools applies a ``local.settings.json`` Value only where the environment has no variable
    of that name, and prints "Skipping 'X' ..." for each one it skips. So a setting the file already
    holds with the right value is left to the file (and taken out of the environment, where a
    machine-wide REQUESTS_CA_BUNDLE, say, would beat it); every other setting goes into the
    environment. Only a file value that would be wrong for this stack is then skipped, and says so.
    """
    child = dict(env)
    for name, value in settings.items():
        if file_values.get(name) == value:
            child.pop(name, None)
        else:
            child[name] = value
    return child


@dataclass
class Child:
    name: str
    popen: subprocess.Popen
    # The last lines only: they explain a failed start; the rest has been printed already.
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=20))

    def stop(self, timeout: float = 10) -> None:
        if self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(timeout=timeout)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()


class Stack:
    def __init__(
        self,
        *,
        port: int,
        emulator_port: int,
        storage_port: int,
        apps: str,
        use_func: bool,
        state_dir: Path,
        azurite_dir: Path,
        directory: Path = Path("directory.json"),
        developer: str | None = None,
        az_config_dir: Path = azure_cli.DEFAULT_CONFIG_DIR,
    ) -> None:
        self.children: list[Child] = []
        already = running.read(state_dir.resolve())
        if already:  # two emulators would overwrite each other's env file, and the record
            raise StackError(
                f"a local stack already runs from {state_dir} (pid {already.pid}, {already.base_url}). "
                "Stop it first, or give this one another --state-dir (or LOCALDEV_STATE_DIR)."
            )
        self.developer, self.az_config_dir = developer, az_config_dir.resolve()
        self.az = azure_cli.find_az() if developer else None  # missing az: a clear error before anything starts
        self.port, self.emulator_port, self.storage_ports = claim_ports(port, emulator_port, storage_port)
        self.apps = apps
        self.selected = apps_of(apps)
        self.func = shutil.which("func") if use_func else None
        self.state_dir = state_dir.resolve()
        self.azurite_dir = azurite_dir.resolve()
        self.directory = directory.resolve()
        if not self.directory.exists():
            raise StackError(f"{directory} does not exist")
        # Set by the SIGINT/SIGTERM handler. A plain flag: a handler that calls Event.set() can
        # deadlock when the signal lands while the main thread holds that Event's lock in wait().
        self._stopping = False
        self._stopped = False  # set once the children are being stopped

    # -- children ------------------------------------------------------------------------------

    def _check_interrupted(self) -> None:
        if self._stopping:
            raise StackError("interrupted while starting")

    def _spawn(
        self,
        name: str,
        command: list[str],
        env: dict[str, str],
        ready: str | None = None,
        timeout: float = 60,
        umask: int = -1,
    ) -> Child:
        popen = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            umask=umask,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        child = Child(name, popen)
        self.children.append(child)
        seen = threading.Event()
        stdout = popen.stdout
        if stdout is None:  # cannot happen with stdout=PIPE; typeshed types it as optional
            raise RuntimeError(f"{name}: no output pipe")

        def pump() -> None:  # prefix the child's output, and notice its ready line
            for line in stdout:
                child.lines.append(line)
                if ready and line.startswith(ready):
                    seen.set()
                if not self._stopped:  # what children say while stopping is no news ("closing...")
                    print(f"[{name}] {line}", end="", flush=True)

        threading.Thread(target=pump, daemon=True).start()
        if ready:
            deadline = time.monotonic() + timeout
            while not seen.wait(0.1):
                self._check_interrupted()
                if popen.poll() is not None or time.monotonic() > deadline:
                    raise StackError(f"{name} did not start: {''.join(child.lines).strip()}")
        return child

    def _wait_for_port(self, name: str, child: Child, port: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_interrupted()
            if child.popen.poll() is not None:
                raise StackError(f"{name} exited: {''.join(child.lines).strip()}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.1)
        raise StackError(f"{name} did not open port {port} within {timeout:g} s")

    def start_azurite(self) -> None:
        if not AZURITE.exists():
            print("[localdev] installing Azurite (npm ci)", flush=True)
            npm = ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"]
            result = subprocess.run(npm, cwd=ROOT)
            if result.returncode != 0 or not AZURITE.exists():
                raise StackError("npm ci failed: Azurite is needed for storage (Node 18+ and npm on PATH)")
        private_folder(self.azurite_dir)  # Azurite keeps the notifications' bodies here
        blob, queue, table = self.storage_ports
        child = self._spawn(
            "azurite",
            [
                str(AZURITE),
                "--silent",
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--location",
                str(self.azurite_dir),
                "--blobHost",
                "127.0.0.1",
                "--queueHost",
                "127.0.0.1",
                "--tableHost",
                "127.0.0.1",
                "--blobPort",
                str(blob),
                "--queuePort",
                str(queue),
                "--tablePort",
                str(table),
            ],
            dict(os.environ),
            umask=0o077,  # the files Azurite creates: 0600
        )
        for port in self.storage_ports:
            self._wait_for_port("azurite", child, port)

    def start_emulator(self) -> dict[str, str]:
        self._spawn(
            "emulator",
            [
                sys.executable,
                "-m",
                "emulator",
                "--state-dir",
                str(self.state_dir),
                "--directory",
                str(self.directory),
                "serve",
                "--port",
                str(self.emulator_port),
            ],
            # The token inspector states the apps' rules; these two are the apps' allow-lists.
            {**os.environ, **{k: v for k, v in local_settings(ROOT).items() if k in INSPECTED_SETTINGS}},
            ready="emulator ready on ",
        )
        return dict(line.split("=", 1) for line in (self.state_dir / "env").read_text().splitlines() if "=" in line)

    def host_settings(self, emulator_env: dict[str, str]) -> dict[str, str]:
        """What the host gets on top of the environment: local settings, the emulator's, this stack's ports."""
        storage = storage_connection_string(*self.storage_ports)
        return {
            **local_settings(ROOT),
            **emulator_env,
            "APPS": self.apps,
            "AzureWebJobsStorage": storage,
            "NotificationStorage": storage,
            "NOTIFICATION_API_URL": f"http://localhost:{self.port}/api",
            "FUNCTIONS_WORKER_RUNTIME": "python",
            **(self.developer_settings(emulator_env) if self.developer else {}),
        }

    def developer_settings(self, emulator_env: dict[str, str]) -> dict[str, str]:
        """The apps run as the developer: ``AZURE_TOKEN_CREDENTIALS=dev`` makes the one credential builder
        use DefaultAzureCredential's developer chain, whose Azure CLI step runs az in this config."""
        if self.az is None:  # found in __init__ whenever a developer is named
            raise StackError("no Azure CLI found for the developer sign-in (`make az` installs one)")
        path = os.environ.get("PATH", "")
        if shutil.which("az") is None:  # the project's az (`make az`), for AzureCliCredential to find
            path = os.pathsep.join(filter(None, (str(Path(self.az).parent), path)))
        return {
            "AZURE_TOKEN_CREDENTIALS": "dev",
            **azure_cli.az_settings(emulator_env, self.az_config_dir),
            "PATH": path,
        }

    def sign_in_developer(self, developer: str) -> None:
        try:
            account = azure_cli.AzureCli(self.state_dir, self.az_config_dir).sign_in(developer)
        except azure_cli.AzureCliError as exc:
            raise StackError(str(exc)) from None
        print(f"[localdev] az        signed in as {account} (config {self.az_config_dir})", flush=True)

    def start_host(self, settings: dict[str, str]) -> None:
        # Both hosts read local.settings.json themselves, applying a Value only where the environment
        # has none: settings the file holds right are left to it, the others go in the environment.
        env = without_skipping(dict(os.environ), settings, settings_file_values(ROOT / "local.settings.json"))
        if self.func:
            child = self._spawn(
                "func", [self.func, "start", "--port", str(self.port)], worker_environment(sys.executable, env)
            )
        else:
            child = self._spawn(
                "host",
                [sys.executable, "-m", "localdev", "host", "--port", str(self.port)],
                env,
                ready="dev host ready on ",
            )
        health = f"http://127.0.0.1:{self.port}/api/health"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            self._check_interrupted()
            if child.popen.poll() is not None:
                raise StackError(f"the functions host exited: {''.join(child.lines).strip()}")
            try:
                if "notification_api" not in self.selected:  # /api/health is the API's
                    self._wait_for_port("functions host", child, self.port)
                    return
                if requests.get(health, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise StackError(f"the functions host did not answer {health} within 120 s")

    # -- lifecycle -----------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: object) -> None:
        self._stopping = True

    def up(self) -> int:
        """Start everything, print where it is, then wait for a signal or a child's death."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        try:
            self.start_azurite()
            env = self.start_emulator()
            if self.developer:
                self.sign_in_developer(self.developer)
            settings = self.host_settings(env)
            self.start_host(settings)
            base = f"http://localhost:{self.port}/api"
            record = running.record(
                running.RunningStack(
                    base_url=base,
                    emulator_url=env["AZURE_AUTHORITY_HOST"],
                    state_dir=self.state_dir,
                    python=sys.executable,
                    host="func start" if self.func else "dev host",
                    pid=os.getpid(),
                    settings=settings,
                )
            )
            print(f"[localdev] azurite   blob/queue/table on 127.0.0.1:{'/'.join(map(str, self.storage_ports))}")
            print(f"[localdev] emulator  {env['AZURE_AUTHORITY_HOST']}/  (env: {self.state_dir / 'env'})")
            print(f"[localdev] host      {'func start' if self.func else 'dev host (no Core Tools)'} on {base}")
            print(f"[localdev] recorded  {record}  (demo, exec find the stack there)")
            if self.developer:
                print(
                    f"[localdev] identity  the apps run as {self.developer} (AZURE_TOKEN_CREDENTIALS=dev, Azure CLI "
                    f"config {self.az_config_dir}); switch: python -m localdev az login --user NAME"
                )
            print(f"local stack ready: {base}", flush=True)
            while not self._stopping:
                time.sleep(0.5)  # a signal interrupts the sleep, runs the handler, then it resumes
                dead = next((c for c in self.children if c.popen.poll() is not None), None)
                if dead:
                    print(
                        f"[localdev] {dead.name} exited with {dead.popen.returncode}; stopping the stack",
                        file=sys.stderr,
                        flush=True,
                    )
                    return 1
            return 0
        except StackError as exc:
            if not self._stopping:
                print(f"error: {exc}", file=sys.stderr, flush=True)
                return 2
            return 0
        finally:
            self.down()

    def down(self) -> None:
        running.clear(self.state_dir, os.getpid())
        self._stopped = True
        for child in reversed(self.children):
            child.stop()
        print("[localdev] stopped", flush=True)
