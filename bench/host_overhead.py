"""What the dev host costs: ``GET /api/health`` through it vs a bare route on the same server stack.

Both run as their own uvicorn process (one worker); the load comes from separate client
processes with keep-alive sessions. Prints requests/s for each and the ratio (target >= 0.7).

    python bench/host_overhead.py [--seconds 5] [--clients 4]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import measure, print_comparison
from tests.e2e.stack import start_host
from tests.processes import ReadyProcess


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as cleanup:
        host, host_base = start_host(Path(tmp), {"APPS": "notification_api"})
        cleanup.callback(host.stop)
        bare = ReadyProcess([sys.executable, "bench/hello_app.py"], "hello ready on ", Path(tmp) / "bare.log")
        cleanup.callback(bare.stop)
        host_url = f"{host_base}/health"
        bare_url = bare.ready_line.removeprefix("hello ready on ") + "/health"
        rows = {
            "dev host (function_app.py)": measure("GET", host_url, clients=args.clients, seconds=args.seconds),
            "bare Starlette route": measure("GET", bare_url, clients=args.clients, seconds=args.seconds),
        }
    print_comparison(
        f"Python {platform.python_version()}, {os.cpu_count()} cores, {args.clients} clients, "
        f"{args.seconds:g} s per row",
        "server",
        rows,
        "dev host / bare",
    )


if __name__ == "__main__":
    main()
