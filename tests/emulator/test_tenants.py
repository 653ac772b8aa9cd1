"""Several tenants: each at its id and its domain, with its own issuers; tokens issued by the
subject's tenant with that tenant's object ids and roles; Entra's errors before consent.

Real clients throughout: azure-identity's ManagedIdentityCredential, ClientSecretCredential and
OnBehalfOfCredential, MSAL's confidential client, PyJWT's key client; the password grant is a
plain form (MSAL cannot reach the emulator for it, see test_users.py).
"""

from __future__ import annotations

import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import jwt
import msal
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential, ManagedIdentityCredential, OnBehalfOfCredential

from tests.emulator_process import AZURE_CLI, ROOT, EmulatorProcess

HOME_TID = "7812c330-acf6-4d59-acac-aae48e763f41"
API_URI = f"api://{HOME_TID}/notification-api"
API = f"{API_URI}/.default"
PROXY = f"api://{HOME_TID}/obo-proxy/access_as_user"


def password_grant(emulator: EmulatorProcess, user: str, scope: str, tenant: str | None) -> dict:
    login = emulator.user(user)
    return emulator.token_request(
        tenant,
        grant_type="password",
        client_id=AZURE_CLI,
        username=login["userPrincipalName"],
        password=login["password"],
        scope=scope,
    ).json()


def aadsts(error: Exception | dict) -> int:
    """The AADSTS code of a failed request (a body, or an azure-identity exception's message)."""
    if isinstance(error, dict):
        assert "access_token" not in error, error
        return int(error["error_codes"][0])
    text = str(error)
    return int(text.split("AADSTS", 1)[1][:6].rstrip(":").strip())


# -- discovery ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["contoso", "fabrikam", "northwind", "tailspin"])
def test_each_tenant_has_its_own_documents_by_id_and_by_domain(emulator: EmulatorProcess, name: str) -> None:
    tid = emulator.tenant_id(name)
    domain = f"{name}.onmicrosoft.com"
    for segment in (tid, domain, domain.upper()):
        v2 = emulator.session.get(f"{emulator.origin}/{segment}/v2.0/.well-known/openid-configuration").json()
        v1 = emulator.session.get(f"{emulator.origin}/{segment}/.well-known/openid-configuration").json()
        assert v2["issuer"] == f"{emulator.origin}/{tid}/v2.0"
        assert v1["issuer"] == f"https://sts.windows.net/{tid}/"
        assert v2["token_endpoint"] == f"{emulator.origin}/{tid}/oauth2/v2.0/token"
        assert v2["jwks_uri"] == f"{emulator.origin}/{tid}/discovery/v2.0/keys"
        assert v1["jwks_uri"] == f"{emulator.origin}/{tid}/discovery/keys"


@pytest.mark.parametrize("alias", ["common", "organizations"])
def test_aliases_carry_the_tenantid_template(emulator: EmulatorProcess, alias: str) -> None:
    v2 = emulator.session.get(f"{emulator.origin}/{alias}/v2.0/.well-known/openid-configuration").json()
    v1 = emulator.session.get(f"{emulator.origin}/{alias}/.well-known/openid-configuration").json()
    assert v2["issuer"] == f"{emulator.origin}/{{tenantid}}/v2.0"
    assert v1["issuer"] == "https://sts.windows.net/{tenantid}/"
    assert v2["token_endpoint"] == f"{emulator.origin}/{alias}/oauth2/v2.0/token"


def test_unknown_tenant_is_aadsts90002(emulator: EmulatorProcess) -> None:
    for segment in ("contoso.example", "00000000-0000-0000-0000-000000000001", "fabrikam"):
        response = emulator.session.get(f"{emulator.origin}/{segment}/v2.0/.well-known/openid-configuration")
        assert response.status_code == 400
        assert response.json()["error_codes"] == [90002]


def test_v2_keys_carry_the_templated_issuer_and_v1_keys_none(emulator: EmulatorProcess) -> None:
    for segment in ("common", emulator.tenant_id("fabrikam"), emulator.tenant_id("contoso")):
        v2 = emulator.session.get(f"{emulator.origin}/{segment}/discovery/v2.0/keys").json()["keys"]
        v1 = emulator.session.get(f"{emulator.origin}/{segment}/discovery/keys").json()["keys"]
        assert {k["issuer"] for k in v2} == {f"{emulator.origin}/{{tenantid}}/v2.0"}
        assert not any("issuer" in k for k in v1)
        assert [k["kid"] for k in v1] == [k["kid"] for k in v2]  # the same keys sign for every tenant


# -- managed identities of every tenant ----------------------------------------------------------


def test_a_customer_managed_identity_gets_its_own_tenants_token(emulator: EmulatorProcess) -> None:
    sync = emulator.identity("fabrikam-sync")
    token = ManagedIdentityCredential(client_id=sync["clientId"]).get_token(API).token
    fabrikam = emulator.tenant_id("fabrikam")
    # Verified against the fabrikam tenant's own published keys, the way an API would.
    key = jwt.PyJWKClient(f"{emulator.origin}/{fabrikam}/discovery/keys").get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token, key.key, algorithms=["RS256"], audience=API_URI, issuer=f"https://sts.windows.net/{fabrikam}/"
    )
    assert claims["tid"] == fabrikam
    assert claims["oid"] == claims["sub"] == sync["principalId"]
    assert claims["appid"] == sync["clientId"]
    assert claims["roles"] == ["notification.create"]  # assigned by fabrikam's admin, in fabrikam


def test_a_managed_identity_before_consent_is_aadsts500011(emulator: EmulatorProcess) -> None:
    credential = ManagedIdentityCredential(client_id=emulator.identity("tailspin-sync")["clientId"])
    with pytest.raises(ClientAuthenticationError) as refused:
        credential.get_token(API)
    assert aadsts(refused.value) == 500011
    assert emulator.tenant_id("tailspin") in str(refused.value)


def test_home_identities_are_unchanged(emulator: EmulatorProcess, verify) -> None:
    claims = verify(ManagedIdentityCredential().get_token(API).token)
    assert claims["tid"] == HOME_TID
    assert claims["iss"] == f"https://sts.windows.net/{HOME_TID}/"
    assert claims["oid"] == emulator.identity("caller-app")["principalId"]


# -- users in their tenants --------------------------------------------------------------------


def test_a_customer_user_gets_a_token_from_her_tenant(emulator: EmulatorProcess, verify) -> None:
    fabrikam = emulator.tenant_id("fabrikam")
    for tenant in ("fabrikam", "fabrikam.onmicrosoft.com", "organizations"):
        claims = verify(password_grant(emulator, "erin", API, tenant)["access_token"])
        assert claims["iss"] == f"https://sts.windows.net/{fabrikam}/"
        assert claims["tid"] == fabrikam
        assert claims["oid"] == emulator.user("erin")["id"]
        assert claims["roles"] == ["notification.read"]
    v2 = verify(password_grant(emulator, "erin", PROXY, "fabrikam")["access_token"])
    assert v2["iss"] == f"{emulator.origin}/{fabrikam}/v2.0"
    assert v2["tid"] == fabrikam


def test_assignment_required_in_a_customer_tenant_except_for_a_global_administrator(
    emulator: EmulatorProcess, verify
) -> None:
    assert aadsts(password_grant(emulator, "frank", API, "fabrikam")) == 50105
    dave = verify(password_grant(emulator, "dave", API, "fabrikam")["access_token"])
    assert dave["tid"] == emulator.tenant_id("fabrikam")
    assert "roles" not in dave  # let in (Global Administrator), holding no role


def test_a_self_assigned_role_in_another_tenant_is_in_the_token(emulator: EmulatorProcess, verify) -> None:
    # The attack APIs must refuse with a tenant allow-list: a perfectly signed token with the role.
    claims = verify(password_grant(emulator, "mallory", API, "northwind")["access_token"])
    assert claims["tid"] == emulator.tenant_id("northwind")
    assert claims["roles"] == ["notification.create"]


def test_a_user_before_consent_is_aadsts65001(emulator: EmulatorProcess) -> None:
    result = password_grant(emulator, "tom", API, "tailspin")
    assert aadsts(result) == 65001
    assert result["error"] == "invalid_grant"


def test_a_user_at_another_tenant_is_aadsts50020(emulator: EmulatorProcess) -> None:
    assert aadsts(password_grant(emulator, "erin", API, "contoso")) == 50020
    assert aadsts(password_grant(emulator, "alice", API, "fabrikam")) == 50020
    assert aadsts(password_grant(emulator, "mallory", API, "fabrikam")) == 50020


def test_roles_are_per_tenant_at_run_time(emulator: EmulatorProcess, verify) -> None:
    grant = {"principal": "frank", "resource": "notification-api", "role": "notification.read", "tenant": "fabrikam"}
    assert emulator.admin("POST", "assignments", json=grant)["changed"]
    assert verify(password_grant(emulator, "frank", API, "fabrikam")["access_token"])["roles"] == ["notification.read"]
    # A tenant without the API's service principal has nothing to assign on.
    refused = emulator.session.post(
        f"{emulator.origin}/admin/assignments",
        json={"principal": "tom", "resource": "notification-api", "role": "notification.read", "tenant": "tailspin"},
    )
    assert refused.status_code == 400
    assert "consent" in refused.json()["error"]


def test_refresh_token_of_one_tenant_at_another_is_aadsts50020(emulator: EmulatorProcess) -> None:
    first = password_grant(emulator, "erin", f"{API} offline_access", "fabrikam")
    refresh = {"grant_type": "refresh_token", "client_id": AZURE_CLI, "refresh_token": first["refresh_token"]}
    assert "access_token" in emulator.token_request("fabrikam", **refresh, scope=API).json()
    assert aadsts(emulator.token_request("contoso", **refresh, scope=API).json()) == 50020


# -- our multi-tenant apps as clients ----------------------------------------------------------


def test_a_client_app_unknown_in_a_tenant_is_aadsts700016(emulator: EmulatorProcess) -> None:
    secret = emulator.new_secret("obo-proxy")
    credential = ClientSecretCredential(
        emulator.tenant_id("tailspin"),
        emulator.app_id("obo-proxy"),
        secret,
        authority=emulator.origin,
        disable_instance_discovery=True,
    )
    with pytest.raises(ClientAuthenticationError) as refused:
        credential.get_token(API)
    assert aadsts(refused.value) == 700016


def test_a_client_app_consented_in_a_tenant_authenticates_there(emulator: EmulatorProcess) -> None:
    # The proxy exists in fabrikam but holds no app role: assignment is required there (501051).
    credential = ClientSecretCredential(
        emulator.tenant_id("fabrikam"),
        emulator.app_id("obo-proxy"),
        emulator.new_secret("obo-proxy"),
        authority=emulator.origin,
        disable_instance_discovery=True,
    )
    with pytest.raises(ClientAuthenticationError) as refused:
        credential.get_token(API)
    assert aadsts(refused.value) == 501051


def test_on_behalf_of_a_customer_user_happens_in_her_tenant(emulator: EmulatorProcess, verify) -> None:
    secret = emulator.new_secret("obo-proxy")
    fabrikam = emulator.tenant_id("fabrikam")

    def exchange(user: str, tenant: str) -> str:
        assertion = password_grant(emulator, user, PROXY, "fabrikam")["access_token"]
        credential = OnBehalfOfCredential(
            tenant,
            emulator.app_id("obo-proxy"),
            client_secret=secret,
            user_assertion=assertion,
            authority=emulator.origin,
            disable_instance_discovery=True,
        )
        return credential.get_token(API).token

    claims = verify(exchange("erin", fabrikam))
    assert claims["tid"] == fabrikam
    assert claims["oid"] == emulator.user("erin")["id"]
    assert claims["roles"] == ["notification.read"]
    with pytest.raises(ClientAuthenticationError) as unassigned:
        exchange("frank", fabrikam)
    assert aadsts(unassigned.value) == 50105
    # Erin's token was issued by fabrikam: the home tenant does not take it as an assertion.
    with pytest.raises(ClientAuthenticationError) as elsewhere:
        exchange("erin", HOME_TID)
    assert aadsts(elsewhere.value) == 50013


def test_secretless_on_behalf_of_in_a_customer_tenant(emulator: EmulatorProcess, verify) -> None:
    # The proxy proves itself with its home tenant's managed identity (a federated credential issued by
    # contoso) while exchanging a fabrikam user's token in fabrikam, as a multi-tenant app does in Entra.
    identity = ManagedIdentityCredential(client_id=emulator.identity("obo-proxy-identity")["clientId"])
    fabrikam = emulator.tenant_id("fabrikam")
    credential = OnBehalfOfCredential(
        fabrikam,
        emulator.app_id("obo-proxy"),
        user_assertion=password_grant(emulator, "erin", PROXY, "fabrikam")["access_token"],
        client_assertion_func=lambda: identity.get_token("api://AzureADTokenExchange/.default").token,
        authority=emulator.origin,
        disable_instance_discovery=True,
    )
    claims = verify(credential.get_token(API).token)
    assert (claims["tid"], claims["appidacr"], claims["roles"]) == (fabrikam, "2", ["notification.read"])


def test_token_cli_takes_a_tenant(emulator: EmulatorProcess) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "emulator", "token", "--state-dir", str(emulator.state_dir), *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
            check=False,
        )

    erin = cli("--tenant", "fabrikam", "--user", "erin", "--scope", API)
    assert erin.returncode == 0, erin.stderr
    claims = jwt.decode(erin.stdout.strip(), options={"verify_signature": False})
    assert claims["tid"] == emulator.tenant_id("fabrikam")
    wrong = cli("--user", "erin", "--scope", API)  # default: the home tenant
    assert wrong.returncode != 0
    assert "AADSTS50020" in wrong.stderr


def test_the_home_page_lists_the_tenants(emulator: EmulatorProcess) -> None:
    page = emulator.session.get(f"{emulator.origin}/").text
    table = page.split('id="directory-tenants"', 1)[1].split("</table>", 1)[0]
    for name in ("contoso (home)", "fabrikam", "northwind", "tailspin"):
        assert name in table
    assert emulator.tenant_id("tailspin") in table
    assert "none: not consented" in table  # tailspin
    assert "mallory notification.create" in table


def _browser_sign_in(emulator: EmulatorProcess, auth_uri: str, user: str) -> dict[str, str]:
    """What a person does on the sign-in page: submit the form, follow the redirect to the loopback URI."""
    login = emulator.user(user)
    response = emulator.session.post(
        auth_uri, data={"username": login["userPrincipalName"], "password": login["password"]}, allow_redirects=False
    )
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


@pytest.mark.parametrize("authority", ["fabrikam", "organizations"])
def test_msal_signs_a_customer_user_in_at_her_tenant(emulator: EmulatorProcess, verify, authority: str) -> None:
    segment = emulator.tenant_id(authority) if authority == "fabrikam" else authority
    app = msal.PublicClientApplication(AZURE_CLI, authority=f"{emulator.origin}/{segment}", instance_discovery=False)
    flow = app.initiate_auth_code_flow([PROXY], redirect_uri="http://localhost:8400")
    result = app.acquire_token_by_auth_code_flow(flow, _browser_sign_in(emulator, flow["auth_uri"], "erin"))
    assert "access_token" in result, result
    fabrikam = emulator.tenant_id("fabrikam")
    assert result["id_token_claims"]["tid"] == fabrikam
    assert result["id_token_claims"]["iss"] == f"{emulator.origin}/{fabrikam}/v2.0"
    assert verify(result["access_token"])["tid"] == fabrikam
    # MSAL keys its cache on client_info: erin's account is a fabrikam account.
    assert app.get_accounts()[0]["home_account_id"] == f"{emulator.user('erin')['id']}.{fabrikam}"


def test_the_sign_in_page_sends_a_user_of_another_tenant_back_with_aadsts50020(emulator: EmulatorProcess) -> None:
    app = msal.PublicClientApplication(AZURE_CLI, authority=emulator.authority, instance_discovery=False)
    flow = app.initiate_auth_code_flow([PROXY], redirect_uri="http://localhost:8400")
    answer = _browser_sign_in(emulator, flow["auth_uri"], "erin")  # contoso's page, fabrikam's user
    assert answer["error"] == "invalid_grant"
    assert "AADSTS50020" in answer["error_description"]
    assert "code" not in answer
