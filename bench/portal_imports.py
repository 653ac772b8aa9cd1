"""Import cost of the support portal: the proxy as written (plain REST through the bearer client) against
the same proxy with azure-mgmt-web, and against the bare packages the proxy needs.

Each row is the median of ``--runs`` fresh interpreters (nothing cached in memory; the files are in the
OS page cache after the first run). A cold start pays this once per instance.

    python bench/portal_imports.py [--runs 9]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BARE = "azure.functions, msal, requests, azure.identity, jwt"
ROWS = {
    "bare packages the proxy needs": f"import {BARE}",
    "obo_proxy (REST through BearerClient)": "import obo_proxy",
    "bare packages + azure.mgmt.web": f"import {BARE}, azure.mgmt.web",
    "obo_proxy + azure.mgmt.web": "import obo_proxy, azure.mgmt.web",
}
TIMED = "import time; t = time.perf_counter(); {code}; print((time.perf_counter() - t) * 1000)"


def measure(code: str, runs: int) -> float:
    times = [
        float(
            subprocess.run(
                [sys.executable, "-c", TIMED.format(code=code)], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(runs)
    ]
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    print(f"Python {platform.python_version()}, {args.runs} fresh interpreters per row, median")
    bare = measure(ROWS["bare packages the proxy needs"], args.runs)
    print("| import | ms | × bare |\n|---|---:|---:|")
    for label, code in ROWS.items():
        ms = bare if code == ROWS["bare packages the proxy needs"] else measure(code, args.runs)
        print(f"| {label} | {ms:.0f} | {ms / bare:.2f} |")


if __name__ == "__main__":
    main()
