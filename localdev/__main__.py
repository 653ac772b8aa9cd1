"""``python -m localdev up`` (the local stack), ``host`` (the dev host alone), ``demo`` (every pattern)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import uvicorn

from emulator.server import PortInUse, ReadyServer, bind

from .host import build, load_app
from .routes import RouteTemplateError
from .stack import Stack, StackError


def serve_host(args: argparse.Namespace) -> int:
    root = Path.cwd()
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
    server.run(sockets=[sock])
    return 0


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
        )
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return stack.up()


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
    up.add_argument("--state-dir", type=Path, default=Path(".emulator"))
    up.add_argument(
        "--directory",
        type=Path,
        default=Path("directory.json"),
        help="the tenant the emulator serves (a variant lets you try, say, missing consent)",
    )
    up.add_argument("--azurite-dir", type=Path, default=Path(".azurite"))
    host = commands.add_parser("host", help="serve function_app.py over HTTP (no Core Tools needed)")
    host.add_argument("--host", default="127.0.0.1")
    host.add_argument("--port", type=int, default=7071, help="0 picks a free port (printed in the ready line)")
    host.add_argument("--app", default="function_app:app", help="module:attribute of the FunctionApp")
    host.add_argument("--run-timers", action="store_true", help="also run timer functions on their schedule")
    host.add_argument("--access-log", action="store_true")
    demo = commands.add_parser("demo", help="run every scenario against the running stack and print a table")
    demo.add_argument("--base-url", default="http://localhost:7071/api")
    demo.add_argument("--state-dir", type=Path, default=Path(".emulator"))
    demo.add_argument("--directory", type=Path, default=Path("directory.json"))
    args = parser.parse_args(argv)
    return {"host": serve_host, "up": stack_up, "demo": run_demo}[args.command](args)


def run_demo(args: argparse.Namespace) -> int:
    from .demo import run

    return run(args.base_url, args.state_dir, args.directory)


if __name__ == "__main__":
    sys.exit(main())
