"""A multi-tenant API serves its customers and no one else: the issuer checked per token, the signing
key's issuer, the tenant allow-list before any key fetch, and tokens that authorize nothing.

Three tenants of the tests' own (token_factory.py): the home tenant and a customer are served; the
third is not, although Entra would sign its tokens with the same keys and its admin may grant any role
in it. Tokens are signed in this process; tenant_stub.py publishes each tenant's metadata and keys.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import azure.functions as func
import jwt
import pytest
from pytest_httpserver import HTTPServer

from appsettings import SettingError
from auth import Authorizer, AuthSettings, TenantNotAllowed, TokenError, TokenValidator
from tests.auth import tenant_stub
from tests.auth.token_factory import CUSTOMER, NOT_A_CUSTOMER, TokenFactory, b64

MALLORY = "3c1e2f4a-6b7d-4c8e-9fa0-b1c2d3e4f5a6"
NOTHING_TO_AUTHORIZE = "token has neither roles nor scp"


@pytest.fixture
def served(tenant: HTTPServer, factory: TokenFactory) -> AuthSettings:
    return AuthSettings(
        factory.tenant,
        tenant_stub.authority_host(tenant),
        (factory.api_app_id, factory.api_uri),
        allowed_tenants=frozenset({factory.tenant, CUSTOMER}),
    )


@pytest.fixture
def multi(served: AuthSettings) -> TokenValidator:
    return TokenValidator(served)


def customer_app(f: TokenFactory, version: str = "1.0", **changes: object) -> dict:
    return f.in_tenant(f.app_claims(version, **changes), CUSTOMER)


def _duplicate_tid(f: TokenFactory) -> str:
    """The same name twice in the JSON (json.loads would keep the last): built and signed by hand."""
    claims = customer_app(f)
    payload = json.dumps(claims)[:-1] + f', "tid": "{f.tenant}"}}'
    signing_input = f"{b64({'alg': 'RS256', 'typ': 'JWT', 'kid': f.kid})}.{b64(payload.encode())}"
    signature = jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256).sign(
        signing_input.encode(), f.tenant_key
    )
    return f"{signing_input}.{b64(signature)}"


# name -> (token, the reason the client is told). One rule broken each; every token is signed by the tenant key.
BAD_TOKENS: dict[str, tuple[Callable[[TokenFactory], str], str]] = {
    "iss of the customer, tid of home": (
        lambda f: f.tenant_signed({**customer_app(f), "tid": f.tenant}),
        "issuer does not match tid",
    ),
    "v2: iss of home, tid of the customer": (
        lambda f: f.tenant_signed({**customer_app(f, "2.0"), "iss": f.issuer(f.tenant, "2.0")}),
        "issuer does not match tid",
    ),
    "tid not a GUID": (
        lambda f: f.tenant_signed(f.in_tenant(f.app_claims(), "contoso.onmicrosoft.com")),
        "tid is not a tenant id",
    ),
    "tid a GUID in upper case": (
        lambda f: f.tenant_signed(f.in_tenant(f.app_claims(), CUSTOMER.upper())),
        "tid is not a tenant id",
    ),
    "tid with braces": (
        lambda f: f.tenant_signed(f.in_tenant(f.app_claims(), f"{{{CUSTOMER}}}")),
        "tid is not a tenant id",
    ),
    "iss with a path after the tenant's issuer (prefix match)": (
        lambda f: f.tenant_signed({**customer_app(f), "iss": f"{f.issuer(CUSTOMER)}evil"}),
        "token is from another issuer",
    ),
    "iss with the tenant's issuer inside (substring match)": (
        lambda f: f.tenant_signed({**customer_app(f), "iss": f"https://evil.example/{f.issuer(CUSTOMER)}"}),
        "token is from another issuer",
    ),
    "iss of another host with the tenant's path": (
        lambda f: f.tenant_signed({**customer_app(f, "2.0"), "iss": f"https://evil.example/{CUSTOMER}/v2.0"}),
        "token is from another issuer",
    ),
    "iss still holding the template": (
        lambda f: f.tenant_signed({**customer_app(f), "iss": "https://sts.windows.net/{tenantid}/"}),
        "token is from another issuer",
    ),
    "tid twice, in two letter cases": (
        lambda f: f.tenant_signed({**customer_app(f), "TID": f.tenant}),
        "tid appears twice",
    ),
    "tid twice, with a dotless i (upper-cases to TID)": (
        lambda f: f.tenant_signed({**customer_app(f), "t\u0131d": f.tenant}),
        "tid appears twice",
    ),
    "tid twice, same spelling": (_duplicate_tid, "malformed token"),
    "no oid": (lambda f: f.tenant_signed(customer_app(f, oid=None)), "token lacks a required claim"),
    "neither roles nor scp": (lambda f: f.tenant_signed(customer_app(f, roles=None)), NOTHING_TO_AUTHORIZE),
    "roles empty and no scp": (lambda f: f.tenant_signed(customer_app(f, roles=[])), NOTHING_TO_AUTHORIZE),
    "scp empty and no roles": (
        lambda f: f.tenant_signed(customer_app(f, roles=None, scp="")),
        NOTHING_TO_AUTHORIZE,
    ),
}


@pytest.mark.parametrize("name", BAD_TOKENS)
def test_bad_token_is_refused_with_its_rule(factory: TokenFactory, multi: TokenValidator, name: str) -> None:
    build, reason = BAD_TOKENS[name]
    with pytest.raises(TokenError) as refused:
        multi.validate(build(factory))
    assert refused.value.reason == reason


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_a_customers_app_and_user_tokens_are_accepted(
    factory: TokenFactory, multi: TokenValidator, version: str
) -> None:
    app = multi.validate(factory.tenant_signed(customer_app(factory, version)))
    assert (app.tenant_id, app.is_app) == (CUSTOMER, True)
    user = multi.validate(factory.tenant_signed(factory.in_tenant(factory.user_claims(version), CUSTOMER)))
    assert (user.tenant_id, user.is_app) == (CUSTOMER, False)
    home = multi.validate(factory.tenant_signed(factory.app_claims(version)))
    assert home.tenant_id == factory.tenant


def test_a_tenant_off_the_list_is_refused_before_its_keys_are_fetched(
    tenant: HTTPServer, factory: TokenFactory, multi: TokenValidator
) -> None:
    """mallory's attack: her tenant consented, and its admin (she) granted her the create role."""
    her_role = factory.user_claims(roles=["notification.create"], scp="Notifications.Create")
    claims = factory.in_tenant(her_role, NOT_A_CUSTOMER)
    with pytest.raises(TenantNotAllowed) as refused:
        multi.validate(factory.tenant_signed({**claims, "oid": MALLORY}))
    assert refused.value.tenant_id == NOT_A_CUSTOMER
    assert tenant_stub.tenant_requests(tenant, NOT_A_CUSTOMER) == 0


def test_random_tenants_cannot_make_the_api_fetch_anything(
    tenant: HTTPServer, factory: TokenFactory, multi: TokenValidator
) -> None:
    for _ in range(50):
        stranger = str(uuid.uuid4())
        with pytest.raises(TenantNotAllowed):
            multi.validate(factory.attacker_signed(factory.in_tenant(factory.app_claims(), stranger), kid=stranger))
    assert len(tenant.log) == 0


def test_a_tenant_not_served_is_refused_even_with_a_valid_signature_in_single_tenant_mode(
    settings: AuthSettings, factory: TokenFactory
) -> None:
    assert settings.tenants == {factory.tenant}  # no allow-list: the home tenant only
    with pytest.raises(TenantNotAllowed):
        TokenValidator(settings).validate(factory.tenant_signed(customer_app(factory, "2.0")))


def test_each_tenant_has_its_own_key_set(tenant: HTTPServer, factory: TokenFactory, multi: TokenValidator) -> None:
    multi.validate(factory.tenant_signed(factory.app_claims()))
    multi.validate(factory.tenant_signed(customer_app(factory)))
    multi.validate(factory.tenant_signed(customer_app(factory, "2.0", uti="again")))
    assert tenant_stub.key_set_fetches(tenant, factory.tenant) == 1
    assert tenant_stub.key_set_fetches(tenant, CUSTOMER) == 1


# -- the signing key's issuer ------------------------------------------------------------------


def with_key_issuer(server: HTTPServer, factory: TokenFactory, issuer: str) -> None:
    """Republish the customer's key set with ``issuer`` on its key."""
    server.clear()
    tenant_stub.publish(server, factory, key_issuers={CUSTOMER: issuer})


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_a_key_naming_the_tenants_own_issuer_signs_its_tokens(
    tenant: HTTPServer, factory: TokenFactory, served: AuthSettings, version: str
) -> None:
    """A GUID issuer is compared exactly: with the token's iss, or the tenant's v2 issuer (v1 tokens)."""
    with_key_issuer(tenant, factory, factory.issuer(CUSTOMER, "2.0"))
    assert TokenValidator(served).validate(factory.tenant_signed(customer_app(factory, version))).tenant_id == CUSTOMER


@pytest.mark.parametrize(
    "issuer",
    [
        "another tenant's issuer",
        "another tenant's v1 issuer",
        "the template on another host",
        "the template with a path added",
    ],
)
def test_a_key_naming_another_issuer_signs_nothing_here(
    tenant: HTTPServer, factory: TokenFactory, served: AuthSettings, issuer: str
) -> None:
    origin = tenant_stub.authority_host(tenant)
    with_key_issuer(
        tenant,
        factory,
        {
            "another tenant's issuer": factory.issuer(factory.tenant, "2.0"),
            "another tenant's v1 issuer": factory.issuer(factory.tenant, "1.0"),
            "the template on another host": "https://evil.example/{tenantid}/v2.0",
            "the template with a path added": f"{origin}/{{tenantid}}/v2.0/x",
        }[issuer],
    )
    for version in ("1.0", "2.0"):
        with pytest.raises(TokenError) as refused:
            TokenValidator(served).validate(factory.tenant_signed(customer_app(factory, version)))
        assert refused.value.reason == "signing key is another issuer's"


# -- what the client is told -------------------------------------------------------------------


def test_mallory_gets_a_403_naming_her_tenant_as_not_a_customer(served: AuthSettings, factory: TokenFactory) -> None:
    api = Authorizer(lambda: served)

    @api.requires("notification.create", scope="Notifications.Create")
    def create(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("created", status_code=201)

    claims = factory.in_tenant(factory.app_claims(roles=["notification.create"]), NOT_A_CUSTOMER)
    token = factory.tenant_signed(claims)
    headers = {"Authorization": f"Bearer {token}"}
    response = create(func.HttpRequest("POST", "http://localhost/api/notifications", headers=headers, body=b""))
    assert response.status_code == 403
    body = json.loads(response.get_body())
    assert body["title"] == "Tenant not allowed"
    assert body["tenant"] == NOT_A_CUSTOMER
    assert f"Tenant {NOT_A_CUSTOMER} is not a customer" in body["detail"]
    assert "WWW-Authenticate" not in response.headers  # no other token from there would do


# -- settings ----------------------------------------------------------------------------------


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, factory: TokenFactory) -> pytest.MonkeyPatch:
    monkeypatch.setenv("AZURE_TENANT_ID", factory.tenant)
    monkeypatch.setenv("AUDIENCES", factory.api_uri)
    for name in ("TENANTS", "SIGN_IN"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def read() -> AuthSettings:
    return AuthSettings.from_env("AUDIENCES", tenants_setting="TENANTS", sign_in_audience_setting="SIGN_IN")


def test_single_tenant_is_the_default(env: pytest.MonkeyPatch, factory: TokenFactory) -> None:
    assert read().tenants == {factory.tenant}
    env.setenv("SIGN_IN", "AzureADMyOrg")
    assert read().tenants == {factory.tenant}


def test_multi_tenant_serves_exactly_the_listed_tenants(env: pytest.MonkeyPatch, factory: TokenFactory) -> None:
    env.setenv("SIGN_IN", "AzureADMultipleOrgs")
    env.setenv("TENANTS", f" {CUSTOMER.upper()} ,{factory.tenant},")
    assert read().tenants == {CUSTOMER, factory.tenant}
    env.setenv("TENANTS", CUSTOMER)
    assert read().tenants == {CUSTOMER}  # nothing implicit: not even the home tenant


@pytest.mark.parametrize(
    ("sign_in", "tenants", "named"),
    [
        ("AzureADMultipleOrgs", None, "TENANTS"),
        ("AzureADMultipleOrgs", " , ", "TENANTS"),
        ("AzureADMultipleOrgs", "contoso.onmicrosoft.com", "TENANTS"),
        ("AzureADMultipleOrgs", f"{CUSTOMER};{NOT_A_CUSTOMER}", "TENANTS"),
        ("AzureADMyOrg", CUSTOMER, "TENANTS"),
        ("AzureADandPersonalMicrosoftAccount", None, "SIGN_IN"),
        ("common", None, "SIGN_IN"),
    ],
)
def test_the_host_does_not_start_with_an_unusable_tenant_setting(
    env: pytest.MonkeyPatch, sign_in: str, tenants: str | None, named: str
) -> None:
    env.setenv("SIGN_IN", sign_in)
    if tenants is not None:
        env.setenv("TENANTS", tenants)
    with pytest.raises(SettingError) as refused:
        read()
    assert refused.value.name == named
