"""Admin consent creates the enterprise application: the page (v2 and v1), the admin call, the CLI,
multi-tier consent through knownClientApplications, and consents kept across a restart.

Each test starts from directory.json (the package's reset fixture forgets consents), so tailspin
is a tenant that has not consented yet.
"""

from __future__ import annotations

import subprocess
import sys
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ManagedIdentityCredential

from tests.emulator_process import AZURE_CLI, ROOT, EmulatorProcess, variant_directory

HOME_TID = "7812c330-acf6-4d59-acac-aae48e763f41"
API_URI = f"api://{HOME_TID}/notification-api"
API = f"{API_URI}/.default"
REDIRECT = "http://localhost:8400/onboarded"  # registered on both apps (web platform)


def consent_url(emulator: EmulatorProcess, tenant: str, app: str, v2: bool = True, **extra: str) -> str:
    query = {"client_id": emulator.app_id(app), "redirect_uri": REDIRECT, "state": "s-123", **extra}
    if v2:
        query.setdefault("scope", API)
        return f"{emulator.origin}/{tenant}/v2.0/adminconsent?{urlencode(query)}"
    return f"{emulator.origin}/{tenant}/adminconsent?{urlencode(query)}"


def accept(emulator: EmulatorProcess, url: str, user: str):
    login = emulator.user(user)
    return emulator.session.post(
        url, data={"username": login["userPrincipalName"], "password": login["password"]}, allow_redirects=False
    )


def tom_token(emulator: EmulatorProcess) -> dict:
    login = emulator.user("tom")
    return emulator.token_request(
        "tailspin",
        grant_type="password",
        client_id=AZURE_CLI,
        username=login["userPrincipalName"],
        password=login["password"],
        scope=API,
    ).json()


def tailspin(emulator: EmulatorProcess) -> dict:
    return next(t for t in emulator.admin("GET", "directory")["tenants"] if t["name"] == "tailspin")


def test_consent_from_scratch_on_the_page(emulator: EmulatorProcess, verify) -> None:
    tid = emulator.tenant_id("tailspin")
    sync = ManagedIdentityCredential(client_id=emulator.identity("tailspin-sync")["clientId"])
    assert tom_token(emulator)["error_codes"] == [65001]
    with pytest.raises(ClientAuthenticationError, match="AADSTS500011"):
        sync.get_token(API)

    url = consent_url(emulator, tid, "obo-proxy")
    page = emulator.session.get(url)
    assert page.status_code == 200
    assert "Notification OBO proxy" in page.text
    assert "Notifications.Read" in page.text  # what the proxy asks of the API, for every user
    assert "Windows Azure Service Management API: user_impersonation" in page.text
    answer = accept(emulator, url, "tom")
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    assert parse_qs(location.query) == {"admin_consent": ["True"], "tenant": [tid], "scope": [API], "state": ["s-123"]}

    # Multi-tier: the API lists the proxy in knownClientApplications, so it came along.
    created = {sp["application"]: sp for sp in tailspin(emulator)["servicePrincipals"]}
    assert set(created) == {"obo-proxy", "notification-api"}
    assert not created["notification-api"]["appRoleAssignmentRequired"]  # Entra's default for a new one
    tom = verify(tom_token(emulator)["access_token"])
    assert tom["tid"] == tid
    app_only = verify(sync.get_token(API).token)
    assert app_only["tid"] == tid
    assert "roles" not in app_only  # until tailspin's admin assigns one
    emulator.admin(
        "POST",
        "assignments",
        json={
            "principal": "tailspin-sync",
            "resource": "notification-api",
            "role": "notification.create",
            "tenant": "tailspin",
        },
    )
    assigned = ManagedIdentityCredential(client_id=emulator.identity("tailspin-sync")["clientId"])
    # The endpoint caches per exact resource string: another spelling gets a fresh token.
    assert verify(assigned.get_token(f"{API_URI.upper()}/.default").token)["roles"] == ["notification.create"]


def test_v1_admin_consent_by_domain(emulator: EmulatorProcess) -> None:
    url = consent_url(emulator, "tailspin.onmicrosoft.com", "notification-api", v2=False)
    answer = accept(emulator, url, "tom")
    assert answer.status_code == 302, answer.text
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query == {"admin_consent": ["True"], "tenant": [emulator.tenant_id("tailspin")], "state": ["s-123"]}
    assert [sp["application"] for sp in tailspin(emulator)["servicePrincipals"]] == ["notification-api"]


def test_organizations_consents_for_the_admins_own_tenant(emulator: EmulatorProcess) -> None:
    answer = accept(emulator, consent_url(emulator, "organizations", "obo-proxy"), "tom")
    assert parse_qs(urlsplit(answer.headers["location"]).query)["tenant"] == [emulator.tenant_id("tailspin")]


def test_only_a_global_administrator_of_that_tenant_consents(emulator: EmulatorProcess) -> None:
    fabrikam = consent_url(emulator, emulator.tenant_id("fabrikam"), "obo-proxy")
    erin = accept(emulator, fabrikam, "erin")  # a member of fabrikam, not an admin
    assert erin.status_code == 403
    assert "AADSTS90094" in erin.text
    assert "location" not in erin.headers
    dave = accept(emulator, consent_url(emulator, emulator.tenant_id("tailspin"), "obo-proxy"), "dave")
    assert "AADSTS50020" in dave.text  # fabrikam's admin is nobody in tailspin
    assert "location" not in dave.headers
    wrong = emulator.session.post(
        consent_url(emulator, emulator.tenant_id("tailspin"), "obo-proxy"),
        data={"username": "tom", "password": "nope"},
        allow_redirects=False,
    )
    assert "AADSTS50126" in wrong.text
    assert tailspin(emulator)["servicePrincipals"] == []


def test_consent_never_redirects_to_an_unregistered_uri(emulator: EmulatorProcess) -> None:
    tid = emulator.tenant_id("tailspin")
    evil = consent_url(emulator, tid, "obo-proxy", redirect_uri="https://evil.example/callback")
    for response in (emulator.session.get(evil, allow_redirects=False), accept(emulator, evil, "tom")):
        assert response.status_code == 400
        assert "AADSTS50011" in response.text
        assert "location" not in response.headers
    common = emulator.session.get(consent_url(emulator, "common", "obo-proxy"), allow_redirects=False)
    assert common.status_code == 400
    assert "AADSTS90002" in common.text
    assert tailspin(emulator)["servicePrincipals"] == []


def test_v2_consent_asks_for_static_permissions(emulator: EmulatorProcess) -> None:
    url = consent_url(emulator, emulator.tenant_id("tailspin"), "obo-proxy", scope=f"{API_URI}/Notifications.Read")
    answer = emulator.session.get(url, allow_redirects=False)
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["error"] == ["invalid_scope"]
    assert query["state"] == ["s-123"]


def test_admin_call_and_cli(emulator: EmulatorProcess) -> None:
    done = emulator.admin("POST", "consent", json={"tenant": "tailspin", "application": "notification-api"})
    assert done["created"] == ["notification-api"]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "emulator",
            "consent",
            "--state-dir",
            str(emulator.state_dir),
            "--tenant",
            "tailspin",
            "--app",
            "obo-proxy",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "obo-proxy consented in tailspin" in result.stdout
    assert "created: obo-proxy" in result.stdout  # the API was there already
    assert {sp["application"] for sp in tailspin(emulator)["servicePrincipals"]} == {"obo-proxy", "notification-api"}


def test_a_consent_given_since_start_can_be_taken_back(emulator: EmulatorProcess) -> None:
    """The demo shows tailspin before and after consent, and runs again: DELETE puts tailspin back."""
    target = {"tenant": "tailspin", "application": "notification-api"}
    emulator.admin("POST", "consent", json=target)
    assert "access_token" in tom_token(emulator)
    assert emulator.admin("DELETE", "consent", json=target)["withdrawn"] is True
    assert tailspin(emulator)["servicePrincipals"] == []
    assert "AADSTS65001" in tom_token(emulator)["error_description"]
    assert emulator.admin("DELETE", "consent", json=target)["withdrawn"] is False  # nothing left to take back


def _no_known_clients(data: dict) -> None:
    data["applications"]["notification-api"]["knownClientApplications"] = []


def test_consent_needs_the_api_unless_it_knows_the_client_and_survives_a_restart(
    emulator: EmulatorProcess, tmp_path
) -> None:
    directory = variant_directory(tmp_path, _no_known_clients)
    first = EmulatorProcess(tmp_path / "state", directory, share_tls_with=emulator)
    try:
        refused = first.session.post(
            f"{first.origin}/admin/consent", json={"tenant": "tailspin", "application": "obo-proxy"}
        )
        assert refused.status_code == 400
        assert "AADSTS650052" in refused.json()["error"]
        first.admin("POST", "consent", json={"tenant": "tailspin", "application": "notification-api"})
        first.admin("POST", "consent", json={"tenant": "tailspin", "application": "obo-proxy"})
    finally:
        first.stop()
    again = EmulatorProcess(tmp_path / "state", directory, share_tls_with=emulator)
    try:
        kept = next(t for t in again.admin("GET", "directory")["tenants"] if t["name"] == "tailspin")
        assert {sp["application"] for sp in kept["servicePrincipals"]} == {"obo-proxy", "notification-api"}
        # What the proxy's requiredResourceAccess asks, for everyone in tailspin: the API's scopes and ARM's.
        assert {(g["resource"], tuple(g["scopes"])) for g in kept["oauth2PermissionGrants"]} == {
            ("notification-api", ("Notifications.Create", "Notifications.Read")),
            ("Windows Azure Service Management API", ("user_impersonation",)),
        }
        assert {g["clientAppId"] for g in kept["oauth2PermissionGrants"]} == {again.app_id("obo-proxy")}
        again.reset()  # back to directory.json: the consents are forgotten, on disk too
        assert (tmp_path / "state" / "consents.json").read_text() == "[]"
    finally:
        again.stop()
