"""``python -m localdev``: ``up`` (the local stack), ``host`` (the dev host alone), ``demo`` (every
pattern), ``exec`` (a command in the running stack's environment), ``settings`` (a
local.settings.json for a plain ``func start``), ``az`` (the real Azure CLI against the local stack,
in a config of its own)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import uvicorn

from emulator.server import PortInUse, ReadyServer, bind

from . import running
from .azure_cli import DEFAULT_CONFIG_DIR, AzureCliError
from .host import apply_local_settings, build, load_app
from .routes import RouteTemplateError
from .stack import Stack, StackError

DEFAULT_BASE = "http://localhost:7071/api"


def serve_host(args: argparse.Namespace) -> int:
    root = Path.cwd()
    settings_file = None if args.no_local_settings else root / "local.settings.json"
    try:  # before the app is imported: its settings are read at import, as in the Functions host
        skipped = apply_local_settings(settings_file, os.environ) if settings_file else []
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name in skipped:  # Core Tools' words, so the same advice (docs/troubleshooting.md) fits both hosts
        print(f"Skipping '{name}' from local settings as it's already defined in current environment variables.")
    try:
        app = load_app(args.app)
        starlette = build(app, root, run_timers=args.run_timers)
    except (ValueError, RouteTemplateError, ImportError) as exc:
        print(f"error: cannot load {args.app}: {exc}", file=sys.stderr)
        return 2
    try:
        sock = bind(args.host, args.port)
    except PortInUse as exc:
        print(f"error: {exc}".replace("Is another emulator running?", "Is another host running?"), file=sys.stderr)
        return 2
    port = sock.getsockname()[1]
    base = f"http://localhost:{port}"
    print("Functions:")
    for name, methods, path in starlette.state.http_routes:
        print(f"  {name}: [{','.join(methods or ['ALL'])}] {base}{path}")
    for name, schedule in starlette.state.timers.items():
        print(f"  {name}: timerTrigger '{schedule}' (POST {base}/admin/functions/{name})")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = ReadyServer(
        uvicorn.Config(starlette, log_level="warning", access_log=args.access_log, timeout_graceful_shutdown=2)
    )
    server.ready_line = f"dev host ready on {base}/api (APPS={os.environ.get('APPS') or 'all'})"
    return server.run_until_stopped([sock])


def stack_up(args: argparse.Namespace) -> int:
    try:
        stack = Stack(
            port=args.port,
            emulator_port=args.emulator_port,
            storage_port=args.storage_port,
            apps=args.apps,
            use_func=not args.no_func,
            state_dir=args.state_dir,
            azurite_dir=args.azurite_dir,
            directory=args.directory,
            developer=args.developer,
            az_config_dir=args.az_config_dir,
        )
    except (StackError, AzureCliError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return stack.up()


def run_exec(args: argparse.Namespace) -> int:
    """Replace this process with COMMAND, in the stack's environment (its exit status is ours)."""
    command = args.command_line[1:] if args.command_line[:1] == ["--"] else args.command_line
    if not command:
        print("error: no command: python -m localdev exec -- COMMAND [ARG...]", file=sys.stderr)
        return 2
    try:
        stack = running.find(args.state_dir)
    except running.NoStack as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.flush()
    try:
        os.execvpe(command[0], command, stack.environment())  # noqa: S606 - the user's own command
    except OSError as exc:
        print(f"error: cannot run {command[0]}: {exc.strerror}", file=sys.stderr)
        return 127


def write_settings(args: argparse.Namespace) -> int:
    from .settings import SettingsError, write

    try:
        write(args.output, state_dir=args.state_dir, port=args.port, storage_port=args.storage_port, force=args.force)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localdev")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="Azurite + emulator + functions host (func start, or the dev host)")
    up.add_argument("--port", type=int, default=7071, help="functions host port (0: any free port)")
    up.add_argument("--emulator-port", type=int, default=8443)
    up.add_argument(
        "--storage-port",
        type=int,
        default=10000,
        help="Azurite blob port; queue and table use the next two (0: any free ports)",
    )
    up.add_argument("--apps", default=os.environ.get("APPS", ""), help="comma list of blueprints (default: all)")
    up.add_argument("--no-func", action="store_true", help="use the dev host even when Core Tools is installed")
    up.add_argument(
        "--state-dir",
        type=Path,
        default=running.default_state_dir(),
        help="the emulator's state and the stack record (default: LOCALDEV_STATE_DIR or .emulator)",
    )
    up.add_argument(
        "--directory",
        type=Path,
        default=Path("directory.json"),
        help="the tenant the emulator serves (a variant lets you try, say, missing consent)",
    )
    up.add_argument(
        "--azurite-dir",
        type=Path,
        default=Path(os.environ.get("LOCALDEV_AZURITE_DIR") or ".azurite"),
        help="Azurite's data (default: LOCALDEV_AZURITE_DIR or .azurite)",
    )
    up.add_argument(
        "--developer",
        metavar="NAME",
        help="run the apps as this directory user: the Azure CLI signs in as NAME, AZURE_TOKEN_CREDENTIALS=dev",
    )
    up.add_argument(
        "--az-config-dir", type=Path, default=DEFAULT_CONFIG_DIR, help="the Azure CLI config --developer uses"
    )
    host = commands.add_parser("host", help="serve function_app.py over HTTP (no Core Tools needed)")
    host.add_argument("--host", default="127.0.0.1")
    host.add_argument("--port", type=int, default=7071, help="0 picks a free port (printed in the ready line)")
    host.add_argument("--app", default="function_app:app", help="module:attribute of the FunctionApp")
    host.add_argument("--run-timers", action="store_true", help="also run timer functions on their schedule")
    host.add_argument("--access-log", action="store_true")
    host.add_argument(
        "--no-local-settings",
        action="store_true",
        help="do not read local.settings.json: a host in front of this one (as func start is to its worker) did",
    )
    demo = commands.add_parser("demo", help="run every scenario against the running stack and print a table")
    demo.add_argument("--base-url", help="the apps' base URL (default: the running stack's, else " + DEFAULT_BASE)
    demo.add_argument(
        "--state-dir", type=Path, default=running.default_state_dir(), help="the stack's (default: .emulator)"
    )
    demo.add_argument("--directory", type=Path, default=Path("directory.json"))
    exec_ = commands.add_parser(
        "exec", help="run COMMAND with the running stack's environment: python -m localdev exec -- COMMAND..."
    )
    exec_.add_argument("--state-dir", type=Path, default=running.default_state_dir())
    exec_.add_argument("command_line", nargs=argparse.REMAINDER, metavar="-- COMMAND")
    settings = commands.add_parser("settings", help="write local.settings.json for a plain `func start`")
    settings.add_argument("--force", action="store_true", help="update an existing file (Values you added are kept)")
    settings.add_argument("--port", type=int, default=7071, help="the port func start listens on")
    settings.add_argument("--storage-port", type=int, default=10000, help="Azurite's blob port (queue, table: +1, +2)")
    settings.add_argument(
        "--state-dir", type=Path, default=running.default_state_dir(), help="the running emulator's (its env file)"
    )
    settings.add_argument("--output", type=Path, default=Path("local.settings.json"))
    az = commands.add_parser(
        "az",
        help="the Azure CLI against the local stack: `az login --user NAME`, or `az -- ARGS` to run az ARGS",
        usage="python -m localdev az [--config-dir DIR] [--state-dir DIR] (login [--user NAME] | -- ARGS...)",
    )
    az.add_argument("--config-dir", type=Path, default=DEFAULT_CONFIG_DIR, help="az's own config (AZURE_CONFIG_DIR)")
    az.add_argument("--state-dir", type=Path, default=running.default_state_dir(), help="the emulator's state folder")
    az.add_argument("--user", help="login: the directory user to sign in as (no person needed)")
    az.add_argument("words", nargs="*", help=argparse.SUPPRESS)
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough = None
    if argv[:1] == ["az"] and "--" in argv:  # everything after `--` goes to az untouched
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1 :]
    args = parser.parse_args(argv)
    if args.command == "az":
        if passthrough is not None and not args.words:
            args.az_command, args.az_args = "run", passthrough
        elif args.words == ["login"] and passthrough is None:
            args.az_command, args.az_args = "login", []
        else:
            az.error("use `az login [--user NAME]` or `az -- ARGS...`")
    handlers = {
        "host": serve_host,
        "up": stack_up,
        "demo": run_demo,
        "exec": run_exec,
        "settings": write_settings,
        "az": run_az,
    }
    return handlers[args.command](args)


def run_az(args: argparse.Namespace) -> int:
    from .azure_cli import main

    return main(args)


def run_demo(args: argparse.Namespace) -> int:
    """The recorded stack's URLs unless --base-url says otherwise; a clear message when nothing answers."""
    from .demo import answers, run

    stack = running.read(args.state_dir)
    base_url = args.base_url or (stack.base_url if stack else DEFAULT_BASE)
    if not answers(base_url):
        if args.base_url:
            advice = "Is the host you started listening there? Check the URL (it ends in /api)."
        else:
            advice = (
                "Start the local stack in another terminal with `make run` (or `python -m localdev up`), "
                "then run the demo again: it finds the stack by itself. For a host you started yourself, "
                "pass --base-url URL (and --state-dir DIR for its emulator)."
            )
        print(f"error: nothing answers at {base_url}. {advice}", file=sys.stderr)
        return 2
    return run(base_url, stack.state_dir if stack else args.state_dir, args.directory)


if __name__ == "__main__":
    sys.exit(main())
