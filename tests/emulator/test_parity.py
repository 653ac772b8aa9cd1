"""The emulator's token inspector states the API's rules again (the emulator stands in for Entra and
may import nothing of ours). This test holds the two to one verdict: the same tokens go through the
real validator and guard rule (auth/) and through the inspector, and both must agree.

A verdict is "allowed", "401" (the token is not acceptable) or "403" (acceptable, but lacks a role or
a scope); the words may differ, the decision may not.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from azure.identity import ManagedIdentityCredential
from cryptography.hazmat.primitives.asymmetric import rsa

from auth import AuthRequirement, AuthSettings, TenantNotAllowed, TokenError, TokenValidator
from emulator import inspector
from tests.emulator_process import EmulatorProcess

API = "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/.default"
# The API's allow-list in these tests: the home tenant and a customer; STRANGER is served by neither.
SERVED = ("7812c330-acf6-4d59-acac-aae48e763f41", "45483bf2-f888-444c-a7c2-9ddd848c19b0")
STRANGER = "4c81c03b-2df7-40a1-b5f7-242ebd403875"
ROUTES = [("notification.read", "Notifications.Read"), ("notification.create", "Notifications.Create")]
ROLE_SETS = [[], ["notification.read"], ["notification.create"], ["notification.read", "notification.create"]]
SCOPE_SETS = [
    "Notifications.Read",
    "Notifications.Create",
    "Notifications.Read Notifications.Create",
    "notification.read",  # the role's value as a scope: not the scope
]


def auth_verdict(validator: TokenValidator, token: str, role: str | None, scope: str) -> str:
    try:
        caller = validator.validate(token)
    except TokenError:
        return "401"
    except TenantNotAllowed:
        return "403"
    return "403" if AuthRequirement(role, scope).missing(caller) else "allowed"


def inspector_verdict(emulator: EmulatorProcess, token: str, role: str | None, scope: str) -> str:
    """The inspector's verdict for an API serving SERVED (the validator's allow-list below)."""
    permission = f"notification-api|{role or ''}|{scope}"
    form = {"token": token, "permission": permission, "tenants": ",".join(SERVED)}
    response = emulator.session.post(f"{emulator.origin}/", data=form)
    assert response.status_code == 200
    page = response.text
    if 'class="allowed">allowed' in page:
        return "allowed"
    if "refused (403)" in page:
        return "403"
    if "refused (401)" in page:
        return "401"
    raise AssertionError(f"no verdict in the inspector's page for {permission}")


@pytest.fixture
def validator(emulator: EmulatorProcess) -> TokenValidator:
    api = emulator.directory["applications"]["notification-api"]
    assert emulator.tenant in SERVED
    audiences = (api["appId"], *api["identifierUris"])
    return TokenValidator(AuthSettings(emulator.tenant, emulator.origin, audiences, allowed_tenants=frozenset(SERVED)))


@pytest.fixture
def app_claims(emulator: EmulatorProcess) -> dict[str, Any]:
    return jwt.decode(ManagedIdentityCredential().get_token(API).token, options={"verify_signature": False})


@pytest.fixture
def user_claims(emulator: EmulatorProcess) -> dict[str, Any]:
    return jwt.decode(emulator.user_token("carol", API), options={"verify_signature": False})


def test_the_shared_limits_are_the_same_numbers() -> None:
    from auth import validation

    assert inspector.MAX_TOKEN_LENGTH == validation.MAX_TOKEN_LENGTH
    assert inspector.CLOCK_SKEW == validation.CLOCK_SKEW


@pytest.mark.parametrize(("role", "scope"), ROUTES)
@pytest.mark.parametrize("roles", ROLE_SETS)
def test_app_tokens_get_the_same_verdict(
    emulator: EmulatorProcess,
    validator: TokenValidator,
    app_claims: dict[str, Any],
    roles: list[str],
    role: str,
    scope: str,
) -> None:
    token = emulator.mint({**app_claims, "roles": roles})
    assert inspector_verdict(emulator, token, role, scope) == auth_verdict(validator, token, role, scope)


@pytest.mark.parametrize(("role", "scope"), ROUTES)
@pytest.mark.parametrize("roles", ROLE_SETS)
@pytest.mark.parametrize("scp", SCOPE_SETS)
def test_user_tokens_get_the_same_verdict(
    emulator: EmulatorProcess,
    validator: TokenValidator,
    user_claims: dict[str, Any],
    scp: str,
    roles: list[str],
    role: str,
    scope: str,
) -> None:
    token = emulator.mint({**user_claims, "scp": scp, "roles": roles})
    assert inspector_verdict(emulator, token, role, scope) == auth_verdict(validator, token, role, scope)


def test_app_tokens_on_a_users_only_route_get_the_same_verdict(
    emulator: EmulatorProcess, validator: TokenValidator, app_claims: dict[str, Any]
) -> None:
    token = emulator.mint({**app_claims, "roles": ["notification.read"]})
    assert auth_verdict(validator, token, None, "Notifications.Read") == "403"
    response = emulator.session.post(
        f"{emulator.origin}/", data={"token": token, "permission": "obo-proxy||access_as_user"}
    )
    assert "this permission is for users only" in response.text or "refused (401)" in response.text


def bad_tokens(emulator: EmulatorProcess, claims: dict[str, Any]) -> dict[str, str]:
    """Named bad tokens: each must be refused (401) by both."""
    now = int(time.time())
    kid = jwt.get_unverified_header(emulator.mint(claims))["kid"]
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    skew = inspector.CLOCK_SKEW
    return {
        "expired beyond the skew": emulator.mint({**claims, "exp": now - skew - 120}),
        "not yet valid beyond the skew": emulator.mint({**claims, "nbf": now + skew + 120}),
        "another audience": emulator.mint({**claims, "aud": "api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy"}),
        "a v1 token with the v2 issuer": emulator.mint({**claims, "ver": "1.0", "iss": f"{emulator.authority}/v2.0"}),
        "another issuer": emulator.mint({**claims, "iss": "https://sts.windows.net/someone-else/"}),
        "signed by another key": jwt.encode(claims, attacker, "RS256", headers={"kid": kid}),
        "alg none": jwt.encode(claims, "", "none"),
        "HS256": jwt.encode(claims, "secret-of-at-least-32-bytes-for-hmac!", "HS256", headers={"kid": kid}),
        "too large": emulator.mint({**claims, "padding": "x" * inspector.MAX_TOKEN_LENGTH}),
        "not a JWT": "not-a-jwt",
        "the home tenant's issuer with another tid": emulator.mint({**claims, "tid": SERVED[1]}),
        "tid not a GUID": emulator.mint({**claims, "tid": "contoso", "iss": "https://sts.windows.net/contoso/"}),
        "tid a GUID in upper case": emulator.mint(
            {**claims, "tid": emulator.tenant.upper(), "iss": f"https://sts.windows.net/{emulator.tenant.upper()}/"}
        ),
        "tid twice, in two letter cases": emulator.mint({**claims, "TID": STRANGER}),
        "no oid": emulator.mint({k: v for k, v in claims.items() if k != "oid"}),
        "neither roles nor scp": emulator.mint({**claims, "roles": []}),
        "iss with a suffix": emulator.mint({**claims, "iss": claims["iss"] + "x"}),
    }


def test_named_bad_tokens_are_refused_by_both(
    emulator: EmulatorProcess, validator: TokenValidator, app_claims: dict[str, Any]
) -> None:
    verdicts = {
        name: (auth_verdict(validator, token, *ROUTES[0]), inspector_verdict(emulator, token, *ROUTES[0]))
        for name, token in bad_tokens(emulator, {**app_claims, "roles": ["notification.read"]}).items()
    }
    assert {name: v for name, v in verdicts.items() if v != ("401", "401")} == {}


def test_a_tenant_off_the_list_is_403_for_both_whatever_it_carries(
    emulator: EmulatorProcess, validator: TokenValidator, app_claims: dict[str, Any]
) -> None:
    """mallory's token: signed, for the API, with the role; from a tenant the API does not serve.
    Signed by anyone at all, it gets the same answer: no key of that tenant is ever looked at."""
    theirs = {**app_claims, "tid": STRANGER, "iss": f"https://sts.windows.net/{STRANGER}/", "roles": ROLE_SETS[3]}
    kid = jwt.get_unverified_header(emulator.mint(theirs))["kid"]
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for token in (emulator.mint(theirs), jwt.encode(theirs, attacker, "RS256", headers={"kid": kid})):
        for role, scope in ROUTES:
            assert (auth_verdict(validator, token, role, scope), inspector_verdict(emulator, token, role, scope)) == (
                "403",
                "403",
            )


@pytest.mark.parametrize(
    ("user", "tenant", "expected"),
    [
        ("erin", "fabrikam", ["allowed", "403"]),  # read: her role; create: not hers
        ("frank", "fabrikam", ["403", "403"]),  # no role at all
        ("mallory", "northwind", ["403", "403"]),  # not a customer, whatever she holds
    ],
)
def test_tokens_of_other_tenants_get_the_same_verdict(
    emulator: EmulatorProcess, validator: TokenValidator, user: str, tenant: str, expected: list[str]
) -> None:
    """Real tokens of a customer's users (erin assigned, frank not: Entra refuses frank a token for an
    API requiring assignment, so his is minted) and of mallory, whose tenant the API does not serve."""
    if user == "frank":
        erin = jwt.decode(emulator.user_token("erin", API, tenant=tenant), options={"verify_signature": False})
        token = emulator.mint({**erin, "oid": emulator.user("frank")["id"], "roles": []})
    else:
        token = emulator.user_token(user, API, tenant=tenant)
    verdicts = [(inspector_verdict(emulator, token, *r), auth_verdict(validator, token, *r)) for r in ROUTES]
    assert verdicts == [(v, v) for v in expected]
