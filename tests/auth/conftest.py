from __future__ import annotations

import pytest

from auth import AuthSettings, TokenValidator
from tests.auth.token_factory import TokenFactory
from tests.emulator_process import EmulatorProcess


@pytest.fixture(scope="session")
def factory(emulator: EmulatorProcess) -> TokenFactory:
    return TokenFactory(emulator)


@pytest.fixture
def settings(emulator: EmulatorProcess) -> AuthSettings:
    return AuthSettings(
        emulator.tenant, emulator.origin, (emulator.app_id("notification-api"), "api://notification-api")
    )


@pytest.fixture
def validator(settings: AuthSettings) -> TokenValidator:
    return TokenValidator(settings)
