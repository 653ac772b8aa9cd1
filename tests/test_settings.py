"""Each app reads its settings once, at start, into a frozen object: a missing or malformed setting
stops the host then, naming it; and every Azure client takes its credential from build_credential."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

from notification_api.settings import ApiSettings
from notification_api.store import NotificationStore
from tests.processes import ROOT, sample_settings

DEPLOYED = ("appsettings", "web", "auth", "outbound", "notification_api", "caller_app", "obo_proxy")


def load_function_app(apps: str, **changes: str | None) -> subprocess.CompletedProcess[str]:
    """Import function_app.py as the host does, with the sample's settings changed by ``changes``."""
    env = {**os.environ, **sample_settings(), "APPS": apps}
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        [sys.executable, "-c", "import function_app"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_the_sample_settings_load_every_app() -> None:
    result = load_function_app("")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("apps", "setting"),
    [
        ("notification_api", "NOTIFICATION_API_AUDIENCES"),
        ("notification_api", "AZURE_TENANT_ID"),
        ("notification_api", "NotificationStorage"),
        ("caller_app", "NOTIFICATION_API_URL"),
        ("caller_app", "NOTIFICATION_API_SCOPE"),
        ("caller_app", "KEY_VAULT_URL"),
        ("caller_app", "WEBHOOK_SECRET_NAME"),
        ("obo_proxy", "OBO_CLIENT_ID"),
        ("obo_proxy", "OBO_AUDIENCES"),
        ("obo_proxy", "OBO_MANAGED_IDENTITY_CLIENT_ID"),
        ("obo_proxy", "PORTAL_SUBSCRIPTION_ID"),
        ("notification_api", "NOTIFICATION_API_ALLOWED_TENANTS"),  # the sample is multi-tenant
    ],
)
def test_a_missing_setting_stops_the_host_at_start_naming_it(apps: str, setting: str) -> None:
    result = load_function_app(apps, **{setting: None})
    assert result.returncode != 0
    assert f"app setting {setting} " in result.stderr


@pytest.mark.parametrize(
    ("apps", "setting", "value", "complaint"),
    [
        ("caller_app", "NOTIFICATION_API_URL", "localhost:7071/api", "is not an absolute http(s) URL"),
        ("obo_proxy", "AZURE_AUTHORITY_HOST", "login.microsoftonline.com", "is not an absolute http(s) URL"),
        ("caller_app", "KEY_VAULT_VERIFY_CHALLENGE_RESOURCE", "no", "must be true or false"),
        ("obo_proxy", "RESOURCE_MANAGER_URL", "management.azure.com", "is not an absolute http(s) URL"),
        ("notification_api", "NOTIFICATION_API_AUDIENCES", " , ", "lists no values"),
        ("obo_proxy", "TOKEN_KEYS_COOLDOWN_SECONDS", "5m", "must be a whole number of seconds"),
        ("caller_app", "DEBUG_ENDPOINTS", "yes", "must be true or false"),  # "yes" would otherwise mean off
        ("notification_api", "AZURE_TENANT_ID", "contoso.onmicrosoft.com", "must be a tenant id"),
        ("notification_api", "AZURE_TOKEN_CREDENTIALS", "prod", "must be dev or ManagedIdentityCredential"),
        ("obo_proxy", "AZURE_TOKEN_CREDENTIALS", "AzureCliCredential", "must be dev or ManagedIdentityCredential"),
    ],
)
def test_a_malformed_setting_stops_the_host_at_start_naming_it(
    apps: str, setting: str, value: str, complaint: str
) -> None:
    result = load_function_app(apps, **{setting: value})
    assert result.returncode != 0
    assert f"app setting {setting} {complaint}" in result.stderr


def test_one_start_names_every_missing_or_malformed_setting() -> None:
    """Not the first problem, then the next on the following start: all of them, each once."""
    broken = {
        "AZURE_TENANT_ID": None,  # read by the API and the proxy: named once
        "NOTIFICATION_API_AUDIENCES": None,
        "NotificationStorage": None,
        "KEY_VAULT_URL": "vault.example",
        "WEBHOOK_SECRET_NAME": None,
        "OBO_CLIENT_ID": None,
        "TOKEN_KEYS_COOLDOWN_SECONDS": "soon",
        "DEBUG_ENDPOINTS": "on",
        "AZURE_TOKEN_CREDENTIALS": "prod",
    }
    result = load_function_app("", **broken)
    assert result.returncode != 0
    named = [line.strip() for line in result.stderr.splitlines() if line.strip().startswith("app setting ")]
    assert sorted(line.split()[2] for line in named) == sorted(broken)
    assert f"{len(broken)} app settings are missing or malformed" in result.stderr


def test_the_proxy_falls_back_to_a_client_secret() -> None:
    result = load_function_app("obo_proxy", OBO_MANAGED_IDENTITY_CLIENT_ID=None, OBO_CLIENT_SECRET="local-only")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("mode", "expected"), [("ManagedIdentityCredential", ManagedIdentityCredential), ("dev", DefaultAzureCredential)]
)
def test_identity_based_storage_takes_the_one_credential(
    app_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch, mode: str, expected: type
) -> None:
    """AZURE_TOKEN_CREDENTIALS=dev reaches storage too: its client's credential comes from build_credential."""
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", mode)
    monkeypatch.delenv("NotificationStorage")
    monkeypatch.setenv("NotificationStorage__tableServiceUri", "https://account.table.core.windows.net")
    store = NotificationStore.from_settings(ApiSettings.from_env())
    assert isinstance(store.table.credential, expected)


def test_only_build_credential_constructs_credentials() -> None:
    """One place decides which credential an app uses: no deployed module builds its own."""
    builders = {"ManagedIdentityCredential", "DefaultAzureCredential", "ClientSecretCredential", "AzureCliCredential"}
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for package in DEPLOYED
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != ROOT / "outbound" / "credentials.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in builders
    ]
    assert found == []
