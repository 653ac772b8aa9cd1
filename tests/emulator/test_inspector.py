"""The token inspector: verdicts over HTTP, then the page in real headless Chromium with a screenshot."""

from __future__ import annotations

import struct
import time

import jwt
from azure.identity import ManagedIdentityCredential
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.emulator_process import EmulatorProcess

API = "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/.default"


def inspect(emulator: EmulatorProcess, token: str, permission: str) -> str:
    response = emulator.session.post(f"{emulator.origin}/", data={"token": token, "permission": permission})
    assert response.status_code == 200
    return response.text


def test_allowed_and_missing_role(emulator: EmulatorProcess) -> None:
    token = ManagedIdentityCredential().get_token(API).token  # caller-app: notification.read
    assert 'class="allowed">allowed' in inspect(
        emulator, token, "notification-api|notification.read|Notifications.Read"
    )
    page = inspect(emulator, token, "notification-api|notification.create|Notifications.Create")
    assert "refused (403)" in page
    assert "missing app role notification.create" in page


def test_audience_of_another_app(emulator: EmulatorProcess) -> None:
    token = ManagedIdentityCredential().get_token(API).token
    page = inspect(emulator, token, "obo-proxy||access_as_user")
    assert "refused (401)" in page
    assert "audience is the App ID URI of another app (notification-api)" in page


def test_users_need_scope_and_role_and_app_tokens_cannot_act_as_users(emulator: EmulatorProcess) -> None:
    alice = emulator.user_token("alice", API)
    page = inspect(emulator, alice, "notification-api|notification.create|Notifications.Create")
    assert "missing user role notification.create" in page
    assert "missing scope" not in page
    # A delegated token whose scp repeats the role's value lacks the scope: the two are distinct.
    claims = jwt.decode(emulator.user_token("carol", API), options={"verify_signature": False})
    role_as_scope = emulator.mint({**claims, "scp": "notification.create"})
    page = inspect(emulator, role_as_scope, "notification-api|notification.create|Notifications.Create")
    assert "missing scope Notifications.Create" in page
    assert "missing user role" not in page
    app = ManagedIdentityCredential().get_token("api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/.default").token
    assert "neither roles nor scp" in inspect(emulator, app, "obo-proxy||access_as_user")  # no role there: 401
    with_a_role = emulator.mint({**jwt.decode(app, options={"verify_signature": False}), "roles": ["some.role"]})
    assert "this permission is for users only" in inspect(emulator, with_a_role, "obo-proxy||access_as_user")


def test_forged_expired_and_garbage(emulator: EmulatorProcess) -> None:
    good = ManagedIdentityCredential().get_token(API).token
    claims = jwt.decode(good, options={"verify_signature": False})
    forged = jwt.encode(
        claims,
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "RS256",
        headers={"kid": jwt.get_unverified_header(good)["kid"]},
    )
    page = inspect(emulator, forged, "notification-api|notification.read|Notifications.Read")
    assert "INVALID: the signature does not match" in page
    assert "refused (401)" in page
    now = int(time.time())
    expired = emulator.mint({**claims, "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600})
    assert "expired 60 min ago" in inspect(emulator, expired, "notification-api|notification.read|Notifications.Read")
    assert "not a readable JWT" in inspect(emulator, "<script>alert(1)</script>", "")
    assert "<script>alert(1)</script>" not in inspect(emulator, "<script>alert(1)</script>", "")  # escaped


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_inspector_in_headless_chromium(emulator: EmulatorProcess, browser, tmp_path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    token = emulator.user_token("carol", API)
    browser.get(f"{emulator.origin}/")
    assert browser.title == "Local Entra ID emulator"
    browser.find_element(By.ID, "token").send_keys(token)
    Select(browser.find_element(By.ID, "permission")).select_by_value(
        "notification-api|notification.create|Notifications.Create"
    )
    browser.find_element(By.ID, "inspect").click()
    # The form posts and the page reloads: wait for the answer rather than racing the navigation.
    verdict = WebDriverWait(browser, 20).until(expected_conditions.presence_of_element_located((By.ID, "verdict")))
    assert verdict.text == "allowed"
    assert "allowed" in (verdict.get_attribute("class") or "")
    claims = browser.find_element(By.ID, "claims").text
    assert 'roles ["notification.create", "notification.read"]' in claims  # through her group
    assert emulator.user("carol")["userPrincipalName"] in claims
    assert "valid: signed by this tenant's key" in browser.find_element(By.ID, "checks").text
    assert "notification-api" in browser.find_element(By.ID, "applications").text

    screenshot = browser.get_screenshot_as_png()
    (tmp_path / "inspector.png").write_bytes(screenshot)
    width, height = png_size(screenshot)
    assert width >= 1000
    assert height >= 600
    assert len(screenshot) > 20_000  # a rendered page, not a blank frame
