"""Session fixtures shared by all test packages: the emulator runs as a real process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.emulator_process import EmulatorProcess, clear_machine_ca_settings
from tests.processes import sample_settings


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """The seeded directory, managed identity cache on (Azure's behaviour), env applied for the session."""
    clear_machine_ca_settings()
    process = EmulatorProcess(tmp_path_factory.mktemp("emulator"))
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TOKEN_CREDENTIALS", "MSI_ENDPOINT"):
            patch.delenv(name, raising=False)
        process.activate(patch)
        yield process
    process.stop()


@pytest.fixture
def app_settings(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The sample's app settings in this process's environment, so function_app.py can be imported."""
    values = sample_settings()
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values
