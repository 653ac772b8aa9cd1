"""The caller → API chain: 1,000 requests to ``GET /api/caller/notifications`` on the local stack.

Reports p50/p95 of the whole chain (caller route → managed identity token → API → Table Storage)
and how many times the caller asked the managed identity endpoint: with one credential per
process that must be 1, whatever the number of requests.

    python bench/caller.py [--requests 1000] [--clients 4]
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import chain_arguments, run_requests
from tests.e2e.stack import start_stack
from tests.emulator_process import clear_machine_ca_settings


def main() -> None:
    args = chain_arguments(__doc__.splitlines()[0])
    clear_machine_ca_settings()
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(Path(tmp))
        try:
            stack.emulator.reset()
            result = run_requests(f"{stack.base_url}/caller/notifications", total=args.requests, clients=args.clients)
            msi = stack.emulator.stats().get("msi:caller-app", 0)
        finally:
            stack.process.stop()
    print(f"\nPython {platform.python_version()}, {os.cpu_count()} cores, {args.clients} clients, dev host, Azurite\n")
    print("| requests | managed identity endpoint hits | requests/s | p50 ms | p95 ms |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {args.requests} | {msi} | {result['per_s']:.0f} | {result['p50_ms']:.1f} | {result['p95_ms']:.1f} |")


if __name__ == "__main__":
    main()
