"""Index function_app.py with the Python worker's own loader and fail on any binding error.

The Functions SDK does not check handler signatures; the worker does, at ``func start`` and in
Azure. Core Tools cannot run here, so this runs the worker's loader (``azure-functions-runtime``,
Python 3.13+) in its own venv, ``.venv-worker``, built on first use.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import ROOT, sample_settings

RUNTIME = "azure-functions-runtime==1.3.0"
HERE = Path(__file__).parent


def find_python313() -> str | None:
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates = [
        os.environ.get("WORKER_PYTHON"),
        shutil.which("python3.13"),
        shutil.which("python3.14"),
        *sorted(glob.glob(f"{pyenv_root}/versions/3.1[3-9]*/bin/python3"), reverse=True),
    ]
    for candidate in filter(None, candidates):
        check = subprocess.run(
            [candidate, "-c", "import sys; sys.exit(sys.version_info < (3, 13))"], capture_output=True
        )
        if check.returncode == 0:
            return candidate
    return None


@pytest.fixture(scope="session")
def worker_python() -> Path:
    python = find_python313()
    if python is None:
        pytest.skip("no Python 3.13+ here: the worker's loader (azure-functions-runtime) needs it")
    venv = ROOT / ".venv-worker"
    stamp = venv / ".installed"
    wanted = hashlib.sha256(((ROOT / "requirements.txt").read_text() + RUNTIME + python).encode()).hexdigest()
    if not stamp.exists() or stamp.read_text() != wanted:
        subprocess.run([python, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "-r",
                str(ROOT / "requirements.txt"),
                RUNTIME,
            ],
            check=True,
        )
        stamp.write_text(wanted)
    return venv / "bin" / "python"


def index(worker_python: Path, directory: Path, apps: str = "") -> dict:
    result = subprocess.run(
        [str(worker_python), str(HERE / "index_with_worker.py"), "function_app.py", str(directory)],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **sample_settings(), "APPS": apps},
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def sdk_function_names(apps: str) -> list[str]:
    """What the SDK in the project's venv registers for the same APPS (a fresh interpreter per APPS)."""
    code = (
        "import json, function_app; "
        "print(json.dumps(sorted(f.get_function_name() for f in function_app.app.get_functions())))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **sample_settings(), "APPS": apps},
    ).stdout
    return json.loads(out)


@pytest.mark.parametrize("apps", ["", "notification_api", "caller_app", "obo_proxy"])
def test_function_app_indexes_like_the_worker_would(worker_python: Path, apps: str) -> None:
    result = index(worker_python, ROOT, apps)
    assert result["ok"], result.get("traceback")
    assert result["functions"] == sdk_function_names(apps)


def test_the_check_catches_a_signature_the_worker_refuses(worker_python: Path) -> None:
    result = index(worker_python, HERE / "broken_app")
    assert not result["ok"]
    assert result["error"].startswith("FunctionLoadError")
    assert "{'request'}" in result["error"]
