"""The guided demo runs every scenario against the stack; any FAIL makes it exit non-zero."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.e2e.stack import Stack
from tests.processes import ROOT


def demo(stack: Stack, base_url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "localdev",
            "demo",
            "--base-url",
            base_url,
            "--state-dir",
            str(stack.emulator.state_dir),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_every_scenario_passes(stack: Stack) -> None:
    result = demo(stack, stack.base_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "14 passed, 0 failed" in result.stdout
    for scenario in (
        "S2S: caller-app creates without the role",
        "Cache trap workaround",
        "AADSTS50105",
        "AADSTS65001",
        "Consent: fixed by pre-authorization",
        "signature does not verify",
    ):
        assert scenario in result.stdout, scenario


def test_a_failing_scenario_fails_the_run(stack: Stack) -> None:
    result = demo(stack, "http://127.0.0.1:9/api")  # nothing listens: every app scenario fails
    assert result.returncode == 1
    failed = re.search(r"(\d+) passed, (\d+) failed", result.stdout)
    assert "FAIL" in result.stdout and failed and int(failed.group(2)) > 0
