"""The on-behalf-of chain: user → proxy → API, 1,000 requests with a warm MSAL cache.

Reports p50/p95 of ``GET /api/obo/notifications`` (token validation, cached exchange, the API's
own validation and its table query) and how many times the proxy called the token endpoint
during the run: with the cache working that is 0 for one signed-in user.

    python bench/obo.py [--requests 1000] [--clients 4]
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests

from bench.load import chain_arguments, run_requests
from tests.e2e.stack import start_stack
from tests.emulator_process import clear_machine_ca_settings


def main() -> None:
    args = chain_arguments(__doc__.splitlines()[0])
    clear_machine_ca_settings()
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(Path(tmp))
        try:
            url = f"{stack.base_url}/obo/notifications"
            headers = {
                "Authorization": f"Bearer {stack.emulator.user_token('alice', 'api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/access_as_user')}"
            }
            requests.get(url, headers=headers, timeout=30).raise_for_status()  # warm: the one exchange
            before = stack.emulator.stats().get("token_requests", 0)
            result = run_requests(url, total=args.requests, clients=args.clients, headers=headers)
            calls = stack.emulator.stats().get("token_requests", 0) - before
        finally:
            stack.process.stop()
    print(f"\nPython {platform.python_version()}, {os.cpu_count()} cores, {args.clients} clients, dev host, Azurite\n")
    print("| requests | token endpoint calls | per 1,000 | requests/s | p50 ms | p95 ms |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {args.requests} | {calls} | {calls * 1000 / args.requests:.0f} | {result['per_s']:.0f} | "
        f"{result['p50_ms']:.1f} | {result['p95_ms']:.1f} |"
    )


if __name__ == "__main__":
    main()
