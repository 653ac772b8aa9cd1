"""Tokens per second the emulator issues: client credentials (secret) and managed identity (cache off).

Starts its own emulator (``--msi-cache off``, so every managed identity request signs a token),
then runs C concurrent clients, each a separate process with its own keep-alive HTTPS session,
for a fixed time per scenario. Prints a Markdown table for the README.

    python bench/emulator_tokens.py [--seconds 5] [--clients 1 4 8]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.emulator_process import BundleSession, EmulatorProcess  # noqa: E402


def _worker(kind: str, env: dict, app_id: str, secret: str, seconds: float, start_at: float, out: mp.Queue) -> None:
    session = BundleSession(env["REQUESTS_CA_BUNDLE"])
    if kind == "client_credentials":
        url = f"{env['AZURE_AUTHORITY_HOST']}/{env['AZURE_TENANT_ID']}/oauth2/v2.0/token"
        data = {"grant_type": "client_credentials", "client_id": app_id, "client_secret": secret,
                "scope": "api://obo-proxy/.default"}

        def call() -> requests.Response:
            return session.post(url, data=data, timeout=10)
    else:
        url = env["IDENTITY_ENDPOINT"]
        params = {"api-version": "2019-08-01", "resource": "api://notification-api"}
        headers = {"X-IDENTITY-HEADER": env["IDENTITY_HEADER"]}

        def call() -> requests.Response:
            return session.get(url, params=params, headers=headers, timeout=10)

    call().raise_for_status()  # warm the connection before the clock starts
    while time.time() < start_at:
        time.sleep(0.001)
    latencies, errors, end = [], 0, start_at + seconds
    while time.time() < end:
        t0 = time.perf_counter()
        response = call()
        latencies.append(time.perf_counter() - t0)
        errors += response.status_code != 200 or "access_token" not in response.text
    out.put((latencies, errors))


def run(kind: str, clients: int, seconds: float, emulator: EmulatorProcess, secret: str) -> dict:
    out: mp.Queue = mp.Queue()
    start_at = time.time() + 1.5
    procs = [mp.Process(target=_worker, args=(kind, emulator.env, emulator.app_id("obo-proxy"), secret, seconds,
                                              start_at, out)) for _ in range(clients)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    latencies = sorted(x for lat, _ in results for x in lat)
    return {"kind": kind, "clients": clients, "tokens_per_s": len(latencies) / seconds,
            "p50_ms": 1000 * statistics.median(latencies),
            "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
            "errors": sum(e for _, e in results)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 8])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        emulator = EmulatorProcess(Path(tmp), Path("directory.json"), "--msi-cache", "off")
        try:
            secret = emulator.new_secret("obo-proxy")
            rows = [run(kind, c, args.seconds, emulator, secret)
                    for kind in ("client_credentials", "managed_identity") for c in args.clients]
        finally:
            emulator.stop()
    print(f"\n{platform.python_version()}, {os.cpu_count()} cores, {args.seconds:g} s per row\n")
    print("| flow | concurrent clients | tokens/s | p50 ms | p95 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['kind']} | {r['clients']} | {r['tokens_per_s']:.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} "
              f"| {r['errors']} |")


if __name__ == "__main__":
    main()
