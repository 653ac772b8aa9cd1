"""Closed-loop HTTP load: ``measure`` runs C client processes (one keep-alive session each) for a
fixed time; ``run_requests`` sends a fixed number of requests from C threads."""

from __future__ import annotations

import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.emulator_process import BundleSession


def _client(
    method: str, url: str, kwargs: dict, bundle: str | None, seconds: float, start_at: float, out: mp.Queue
) -> None:
    session = BundleSession(bundle) if bundle else __import__("requests").Session()
    session.request(method, url, timeout=10, **kwargs).raise_for_status()  # warm the connection first
    while time.time() < start_at:
        time.sleep(0.001)
    latencies, errors, end = [], 0, start_at + seconds
    while time.time() < end:
        t0 = time.perf_counter()
        response = session.request(method, url, timeout=10, **kwargs)
        latencies.append(time.perf_counter() - t0)
        errors += response.status_code != 200
    out.put((latencies, errors))


def measure(method: str, url: str, *, clients: int, seconds: float, bundle: str | None = None, **kwargs) -> dict:
    """Requests per second, p50/p95 latency in ms, and non-200 answers."""
    out: mp.Queue = mp.Queue()
    start_at = time.time() + 1.5
    procs = [
        mp.Process(target=_client, args=(method, url, kwargs, bundle, seconds, start_at, out)) for _ in range(clients)
    ]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    latencies = sorted(x for lat, _ in results for x in lat)
    return {
        "clients": clients,
        "per_s": len(latencies) / seconds,
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
        "errors": sum(e for _, e in results),
    }


def run_requests(url: str, *, total: int, clients: int, headers: dict | None = None) -> dict:
    """Send ``total`` GETs from ``clients`` threads; requests/s and p50/p95 latency in ms."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    sessions = [requests.Session() for _ in range(clients)]

    def one(i: int) -> float:
        started = time.perf_counter()
        sessions[i % clients].get(url, headers=headers or {}, timeout=30).raise_for_status()
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = sorted(pool.map(one, range(total)))
    elapsed = time.perf_counter() - started
    return {
        "per_s": total / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
    }


def chain_arguments(description: str):
    """--requests and --clients, shared by the chain benchmarks (caller.py, obo.py)."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    return parser.parse_args()


def print_comparison(context: str, first_column: str, rows: dict[str, dict], ratio_label: str) -> None:
    """A Markdown table of ``measure`` results, then the first row's rate over the second's."""
    print(f"\n{context}\n")
    print(f"| {first_column} | requests/s | p50 ms | p95 ms | errors |")
    print("|---|---:|---:|---:|---:|")
    for name, r in rows.items():
        print(f"| {name} | {r['per_s']:.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['errors']} |")
    first, second = (r["per_s"] for r in rows.values())
    print(f"\nratio {ratio_label}: {first / second:.2f}")
