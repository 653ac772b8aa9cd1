"""Tokens per second the emulator issues: client credentials (secret) and managed identity (cache off).

Starts its own emulator (``--msi-cache off``, so every managed identity request signs a token),
then runs C concurrent clients, each a separate process with its own keep-alive HTTPS session,
for a fixed time per scenario. Prints a Markdown table for docs/benchmarks.md.

    python bench/emulator_tokens.py [--seconds 5] [--clients 1 4 8]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import measure
from tests.emulator_process import EmulatorProcess


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 8])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        emulator = EmulatorProcess(Path(tmp), Path("directory.json"), "--msi-cache", "off")
        try:
            env = emulator.env
            flows = {
                "client_credentials": (
                    "POST",
                    emulator.token_endpoint,
                    {
                        "data": {
                            "grant_type": "client_credentials",
                            "client_id": emulator.app_id("obo-proxy"),
                            "client_secret": emulator.new_secret("obo-proxy"),
                            "scope": "api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/.default",
                        }
                    },
                ),
                "managed_identity": (
                    "GET",
                    env["IDENTITY_ENDPOINT"],
                    {
                        "params": {
                            "api-version": "2019-08-01",
                            "resource": "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api",
                        },
                        "headers": {"X-IDENTITY-HEADER": env["IDENTITY_HEADER"]},
                    },
                ),
            }
            rows = [
                (flow, measure(method, url, clients=c, seconds=args.seconds, bundle=emulator.bundle, **kwargs))
                for flow, (method, url, kwargs) in flows.items()
                for c in args.clients
            ]
        finally:
            emulator.stop()
    print(f"\nPython {platform.python_version()}, {os.cpu_count()} cores, {args.seconds:g} s per row\n")
    print("| flow | concurrent clients | tokens/s | p50 ms | p95 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    for flow, r in rows:
        print(f"| {flow} | {r['clients']} | {r['per_s']:.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['errors']} |")


if __name__ == "__main__":
    main()
