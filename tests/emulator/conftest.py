from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from tests.emulator_process import EmulatorProcess, variant_directory


@pytest.fixture(autouse=True)
def fresh(emulator: EmulatorProcess) -> None:
    """Every test starts from the file's assignments with empty caches and counters."""
    emulator.reset()


def _variant(data: dict) -> None:
    api = data["applications"]["notification-api"]
    proxy_id = data["applications"]["obo-proxy"]["appId"]
    # Consent: the proxy is no longer pre-authorized on the API.
    api["preAuthorizedApplications"] = [p for p in api["preAuthorizedApplications"] if p["appId"] != proxy_id]
    # Group roles: build-agents holds its roles only through a group now.
    data["groups"]["notification-admins"]["members"].append("build-agents")
    data["appRoleAssignments"] = [a for a in data["appRoleAssignments"] if a["principal"] != "build-agents"]


@pytest.fixture(scope="session")
def variant(emulator: EmulatorProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """A second tenant picture: proxy not pre-authorized, an identity in a role-holding group, MI cache off."""
    tmp = tmp_path_factory.mktemp("variant")
    process = EmulatorProcess(
        tmp / "state", variant_directory(tmp, _variant), "--msi-cache", "off", share_tls_with=emulator
    )
    yield process
    process.stop()


@pytest.fixture(scope="session")
def jwks(emulator: EmulatorProcess) -> jwt.PyJWKClient:
    # No ssl_context: PyJWT reads SSL_CERT_FILE, as the apps will.
    return jwt.PyJWKClient(f"{emulator.authority}/discovery/v2.0/keys")


@pytest.fixture
def verify(jwks: jwt.PyJWKClient):
    """Verify a token's signature against the emulator's published keys and return its claims."""

    def check(token: str) -> dict:
        key = jwks.get_signing_key_from_jwt(token)
        return jwt.decode(token, key.key, algorithms=["RS256"], options={"verify_aud": False})

    return check


CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.fixture
def browser(tmp_path: Path):
    """Headless Chromium (Debian's), for what only a real browser shows."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail("REQUIRE_BROWSER is set but Debian's chromium/chromium-driver are not installed")
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1400",
        f"--user-data-dir={tmp_path / 'profile'}",
        # The emulator's CA is local to this test run; trusting it system-wide is not ours to do.
        "--ignore-certificate-errors",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()
