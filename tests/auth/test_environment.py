"""The production guard and the debug switch (docs/security.md)."""

from __future__ import annotations

import subprocess
import sys

import azure.functions as func
import pytest

from appsettings import SettingError
from auth import check_environment, debug_endpoints_enabled, debug_only
from tests.processes import ROOT


@pytest.fixture
def in_azure(monkeypatch):
    monkeypatch.setenv("WEBSITE_INSTANCE_ID", "0123abcd")
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com")
    monkeypatch.setenv("KEY_VAULT_URL", "https://notifications-kv.vault.azure.net/")
    monkeypatch.setenv("RESOURCE_MANAGER_URL", "https://management.azure.com")
    monkeypatch.setenv("IDENTITY_ENDPOINT", "http://localhost:8081/msi/token")  # App Service's own, loopback
    return monkeypatch


def test_real_azure_settings_pass(in_azure) -> None:
    check_environment()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AZURE_AUTHORITY_HOST", "https://localhost:8443"),
        ("AZURE_AUTHORITY_HOST", "https://127.0.0.1:8443"),
        ("KEY_VAULT_URL", "https://[::1]:8443/"),
        # Spellings a string comparison missed; tests/test_loopback.py has the rest.
        ("AZURE_AUTHORITY_HOST", "https://localhost.:8443"),
        ("AZURE_AUTHORITY_HOST", "https://127.1:8443"),
        ("KEY_VAULT_URL", "https://[::ffff:127.0.0.1]:8443/"),
        ("KEY_VAULT_URL", "https://2130706433:8443/"),
        ("AZURE_AUTHORITY_HOST", "https://0.0.0.0:8443"),
        # The portal would send users' ARM tokens to a laptop.
        ("RESOURCE_MANAGER_URL", "https://localhost:8443"),
        ("RESOURCE_MANAGER_URL", "https://127.0.0.1:8443/"),
    ],
)
def test_emulator_settings_in_azure_refuse_to_start(in_azure, name: str, value: str) -> None:
    in_azure.setenv(name, value)
    with pytest.raises(SettingError, match=name):
        check_environment()


def test_loopback_is_fine_locally(monkeypatch) -> None:
    monkeypatch.delenv("WEBSITE_INSTANCE_ID", raising=False)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", "https://localhost:8443")
    check_environment()


def test_the_app_itself_refuses_to_load(monkeypatch) -> None:
    env = {"WEBSITE_INSTANCE_ID": "x", "AZURE_AUTHORITY_HOST": "https://localhost:8443", "PATH": "/usr/bin"}
    result = subprocess.run(
        [sys.executable, "-c", "import function_app"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "points at the local emulator" in result.stderr


@pytest.mark.parametrize(
    ("azure", "setting", "enabled"),
    [
        (False, None, False),  # absent is off everywhere: no guess from where the host runs
        (False, "false", False),
        (False, "TRUE", True),
        (True, None, False),
        (True, "true", True),
    ],
)
def test_debug_endpoints(monkeypatch, azure: bool, setting: str | None, enabled: bool) -> None:
    if azure:
        monkeypatch.setenv("WEBSITE_INSTANCE_ID", "x")
    else:
        monkeypatch.delenv("WEBSITE_INSTANCE_ID", raising=False)
    if setting is None:
        monkeypatch.delenv("DEBUG_ENDPOINTS", raising=False)
    else:
        monkeypatch.setenv("DEBUG_ENDPOINTS", setting)
    assert debug_endpoints_enabled() is enabled


@pytest.mark.parametrize(("setting", "status"), [(None, 404), ("false", 404), ("true", 200)])
def test_a_debug_route_answers_only_where_debug_endpoints_is_true(
    monkeypatch, setting: str | None, status: int
) -> None:
    """The caller's debug routes act with the app's own identity: absent means off, even on a laptop."""
    if setting is None:
        monkeypatch.delenv("DEBUG_ENDPOINTS", raising=False)
    else:
        monkeypatch.setenv("DEBUG_ENDPOINTS", setting)

    @debug_only
    def inspect_identity(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("the app's own token claims")

    request = func.HttpRequest("GET", "http://localhost/api/caller/token", body=b"")
    assert inspect_identity(request).status_code == status


def test_a_malformed_debug_endpoints_stops_the_start(monkeypatch) -> None:
    monkeypatch.delenv("WEBSITE_INSTANCE_ID", raising=False)
    monkeypatch.setenv("DEBUG_ENDPOINTS", "yes")  # once silently "off"
    with pytest.raises(SettingError, match="DEBUG_ENDPOINTS must be true or false"):
        check_environment()
