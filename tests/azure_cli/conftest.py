"""The real Azure CLI (`make az` installs azure-cli into .venv-az), against a real emulator.

Nothing of az is faked. Without az these tests skip, saying why; where az must be there
(``CI=true``, as in .ci/run, or ``REQUIRE_AZ=1``) a missing az fails them instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from localdev.azure_cli import AzureCliError, find_az
from tests.emulator_process import DIRECTORY, EmulatorClient, EmulatorProcess
from tests.processes import ROOT


@pytest.fixture(scope="session")
def az() -> str:
    try:
        return find_az()
    except AzureCliError as exc:
        if os.environ.get("REQUIRE_AZ") or os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the Azure CLI is required here (CI or REQUIRE_AZ): {exc}")
        pytest.skip(f"Azure CLI not installed (`make az` installs it): {exc}")


class LocalAz:
    """``python -m localdev az`` with one config folder, against one emulator."""

    def __init__(self, emulator: EmulatorClient, config_dir: Path) -> None:
        self.emulator, self.config_dir = emulator, config_dir

    def localdev(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "localdev", "az", "--state-dir", str(self.emulator.state_dir)]
        command += ["--config-dir", str(self.config_dir), *args]
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)
        if check:
            assert result.returncode == 0, result.stderr
        return result

    def login(self, user: str) -> None:
        self.localdev("login", "--user", user)

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.localdev("--", *args, check=check)

    def token(self, resource: str, check: bool = True) -> subprocess.CompletedProcess:
        return self("account", "get-access-token", "--resource", resource, "--query", "accessToken", "-o", "tsv",
                    check=check)  # fmt: skip


@pytest.fixture(scope="session")
def az_emulator(az: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """An emulator of their own: az polls a device code every ``interval`` seconds, 1 here instead of 5.

    Not the session's ``emulator`` fixture: that one puts its settings into this process's environment,
    which the e2e tests that follow must not inherit."""
    process = EmulatorProcess(tmp_path_factory.mktemp("az-emulator"), DIRECTORY, "--device-code-interval", "1")
    yield process
    process.stop()


@pytest.fixture
def local_az(az_emulator: EmulatorProcess, tmp_path: Path) -> Iterator[LocalAz]:
    az_emulator.reset()
    yield LocalAz(az_emulator, tmp_path / "azure-cli")
    az_emulator.reset()
