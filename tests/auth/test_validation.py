"""Every rule of token validation, each shown refusing the attack it exists for. Tokens are signed
in this process; the tenant's keys come from a local stub (conftest.py), not from the emulator."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import time_machine
from pytest_httpserver import HTTPServer

from auth import AuthSettings, KeysUnavailable, TokenError, TokenValidator
from tests.auth.tenant_stub import key_set_fetches
from tests.auth.token_factory import TokenFactory, at, b64

OTHER_TENANT = "11111111-2222-3333-4444-555555555555"


def _tampered(f: TokenFactory) -> str:
    head, _, signature = f.tenant_signed(f.app_claims()).split(".")
    return f"{head}.{b64(f.app_claims(roles=['notification.create']))}.{signature}"


def _parts(f: TokenFactory, keep: slice, extra: str = "") -> str:
    return ".".join(f.tenant_signed(f.app_claims()).split(".")[keep]) + extra


def _with_header(header: dict) -> str:
    """A token with exactly this header (any JSON values), a plausible payload and a junk signature."""
    return f"{b64(header)}.{b64({'exp': at(3600)})}.{b64(b'not a signature')}"


# name -> (how to build the token, the reason the client is told). Each is one test.
BAD_TOKENS: dict[str, tuple[Callable[[TokenFactory], str], str]] = {
    "expired": (
        lambda f: f.tenant_signed(f.app_claims(iat=at(-7200), nbf=at(-7200), exp=at(-3600))),
        "token expired",
    ),
    "not yet valid": (lambda f: f.tenant_signed(f.app_claims(nbf=at(3600), exp=at(7200))), "token not yet valid"),
    "wrong audience": (
        lambda f: f.tenant_signed(f.app_claims(aud="api://some-other-api")),
        "token is for another audience",
    ),
    "audience of our other app": (
        lambda f: f.tenant_signed(f.app_claims(aud="api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy")),
        "token is for another audience",
    ),
    "audience differs in case": (
        lambda f: f.tenant_signed(f.app_claims(aud="api://7812c330-acf6-4d59-acac-aae48e763f41/Notification-API")),
        "token is for another audience",
    ),
    "wrong issuer": (
        lambda f: f.tenant_signed(f.app_claims(iss="https://evil.example/")),
        "token is from another issuer",
    ),
    "our issuer, other tid": (
        lambda f: f.tenant_signed(f.app_claims(tid=OTHER_TENANT)),
        "issuer does not match tid",
    ),
    "v1 token claiming the v2 issuer": (
        lambda f: f.tenant_signed(f.app_claims(iss=f.v2_issuer)),
        "token is from another issuer",
    ),
    "v2 token claiming the v1 issuer": (
        lambda f: f.tenant_signed(f.app_claims("2.0", iss=f"https://sts.windows.net/{f.tenant}/")),
        "token is from another issuer",
    ),
    "unknown version": (lambda f: f.tenant_signed(f.app_claims(ver="3.0")), "token is from another issuer"),
    "alg none": (lambda f: f.unsigned(f.app_claims()), "algorithm not allowed"),
    "HS256 keyed with the public key": (lambda f: f.hs256_with_public_key(f.app_claims()), "algorithm not allowed"),
    "ES256": (lambda f: f.es256(f.app_claims()), "algorithm not allowed"),
    "unknown kid": (lambda f: f.attacker_signed(f.app_claims(), kid="not-a-tenant-key"), "signing key not found"),
    "kid with path characters": (
        lambda f: f.attacker_signed(f.app_claims(), kid="../../../etc/passwd"),
        "signing key not found",
    ),
    "no kid": (lambda f: f.attacker_signed(f.app_claims(), kid=None), "token has no key id"),
    "foreign key with our kid": (lambda f: f.attacker_signed(f.app_claims()), "signature does not verify"),
    "jku to the attacker's keys": (
        lambda f: f.attacker_signed(f.app_claims(), kid="attacker", jku="https://evil.example/keys"),
        "signing key not found",
    ),
    "x5u to the attacker's certificate": (
        lambda f: f.attacker_signed(f.app_claims(), kid="attacker", x5u="https://evil.example/cert"),
        "signing key not found",
    ),
    "embedded jwk of the attacker": (
        lambda f: f.attacker_signed(f.app_claims(), jwk=f.attacker_jwk_header()),
        "signature does not verify",
    ),
    "tampered payload": (_tampered, "signature does not verify"),
    "stripped signature": (lambda f: _parts(f, slice(0, 2), "."), "signature does not verify"),
    "two parts": (lambda f: _parts(f, slice(0, 2)), "malformed token"),
    "five parts (JWE shape)": (lambda f: _parts(f, slice(0, 3), ".x.y"), "malformed token"),
    "garbage base64": (lambda f: "%%%.@@@.!!!", "malformed token"),
    "not a JWT at all": (lambda f: "hello", "malformed token"),
    "oversized": (lambda f: f.tenant_signed(f.app_claims(padding="x" * 17000)), "token too large"),
    "missing exp": (lambda f: f.tenant_signed(f.app_claims(exp=None)), "token lacks a required claim"),
    "missing aud": (lambda f: f.tenant_signed(f.app_claims(aud=None)), "token lacks a required claim"),
    "missing tid": (lambda f: f.tenant_signed(f.app_claims(tid=None)), "token lacks a required claim"),
    "missing oid": (lambda f: f.tenant_signed(f.app_claims(oid=None)), "token lacks a required claim"),
    "roles as a string": (lambda f: f.tenant_signed(f.app_claims(roles="notification.read")), "malformed roles claim"),
    "scp as a list": (lambda f: f.tenant_signed(f.user_claims(scp=["Notifications.Read"])), "malformed scp claim"),
    "scope in roles (user token without scp)": (
        lambda f: f.tenant_signed(f.user_claims(scp=None, roles=["notification.read"])),
        "user token without scp",
    ),
    "app token with scp": (lambda f: f.tenant_signed(f.app_claims(scp="Notifications.Read")), "app token with scp"),
    "no client id": (lambda f: f.tenant_signed(f.app_claims(appid=None)), "token lacks oid, tid or client id"),
    # Header shapes PyJWT refuses with InvalidTokenError, not DecodeError: each was once a 500 for anyone.
    "kid as a number": (lambda f: _with_header({"alg": "RS256", "kid": 0}), "malformed token"),
    "kid true": (lambda f: _with_header({"alg": "RS256", "kid": True}), "malformed token"),
    "kid null": (lambda f: _with_header({"alg": "RS256", "kid": None}), "malformed token"),
    "kid as a list": (lambda f: _with_header({"alg": "RS256", "kid": [f.kid]}), "malformed token"),
    "kid as an object": (lambda f: _with_header({"alg": "RS256", "kid": {"k": f.kid}}), "malformed token"),
    "crit not a list": (lambda f: _with_header({"alg": "RS256", "kid": f.kid, "crit": "exp"}), "malformed token"),
    "crit naming an unknown extension": (
        lambda f: _with_header({"alg": "RS256", "kid": f.kid, "crit": ["x-evil"], "x-evil": 1}),
        "malformed token",
    ),
    "non-ASCII characters": (lambda f: _parts(f, slice(0, 3)) + "\u00e9", "malformed token"),
    # Correctly signed, claims of types Entra never issues: once accepted, or a 500 in the store.
    "exp as a numeric string": (
        lambda f: f.tenant_signed(f.app_claims(exp=str(at(3600)))),
        "malformed exp claim",
    ),
    "nbf as a boolean": (lambda f: f.tenant_signed(f.app_claims(nbf=True)), "malformed nbf claim"),
    "ver as a number": (lambda f: f.tenant_signed(f.app_claims(ver=1.0)), "malformed ver claim"),
    "aud as a list": (
        lambda f: f.tenant_signed(f.app_claims(aud=["api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api"])),
        "malformed aud claim",
    ),
    "upn as a number": (lambda f: f.tenant_signed(f.user_claims(upn=12345)), "malformed upn claim"),
    "preferred_username as a list": (
        lambda f: f.tenant_signed(f.user_claims("2.0", upn=None, preferred_username=["alice"])),
        "malformed preferred_username claim",
    ),
    "oid as a number": (lambda f: f.tenant_signed(f.app_claims(oid=7)), "malformed oid claim"),
    "user token expired": (
        lambda f: f.tenant_signed(f.user_claims(exp=at(-3600), iat=at(-7200), nbf=at(-7200))),
        "token expired",
    ),
}


def test_there_are_at_least_thirty_named_attacks() -> None:
    assert len(BAD_TOKENS) >= 30


@pytest.mark.parametrize("name", BAD_TOKENS)
def test_bad_token_is_refused_with_its_reason(factory: TokenFactory, validator: TokenValidator, name: str) -> None:
    build, reason = BAD_TOKENS[name]
    with pytest.raises(TokenError) as refused:
        validator.validate(build(factory))
    assert refused.value.reason == reason


@pytest.mark.parametrize("version", ["1.0", "2.0"])
@pytest.mark.parametrize("audience", ["api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api", "guid"])
def test_good_app_tokens_with_either_audience_form(
    factory: TokenFactory, validator: TokenValidator, version: str, audience: str
) -> None:
    aud = factory.api_app_id if audience == "guid" else audience
    caller = validator.validate(factory.tenant_signed(factory.app_claims(version, aud=aud)))
    assert caller.is_app
    assert caller.roles == {"notification.read"}
    assert caller.scopes == set()
    assert caller.app_id == factory.caller["clientId"]


def test_good_user_token(factory: TokenFactory, validator: TokenValidator) -> None:
    caller = validator.validate(factory.tenant_signed(factory.user_claims("2.0")))
    assert not caller.is_app
    assert caller.scopes == {"Notifications.Read"}
    assert caller.username == factory.alice["userPrincipalName"]


def test_clock_skew_is_tolerated(factory: TokenFactory, validator: TokenValidator) -> None:
    token = factory.tenant_signed(factory.app_claims(exp=at(-30), nbf=at(30)))
    assert validator.validate(token).is_app


def test_keys_are_fetched_once_and_validations_cached(
    tenant: HTTPServer, factory: TokenFactory, validator: TokenValidator
) -> None:
    tokens = [factory.tenant_signed(factory.app_claims(uti=str(i))) for i in range(20)]
    for _ in range(5):
        for token in tokens:
            validator.validate(token)
    assert key_set_fetches(tenant) == 1


def test_a_flood_of_unknown_kids_does_not_hammer_the_tenant(
    tenant: HTTPServer, factory: TokenFactory, validator: TokenValidator
) -> None:
    validator.validate(factory.tenant_signed(factory.app_claims()))
    for i in range(50):
        with pytest.raises(TokenError):
            validator.validate(factory.attacker_signed(factory.app_claims(), kid=f"unknown-{i}"))
    assert key_set_fetches(tenant) <= 2  # the first fetch, at most one refetch per cooldown


def test_a_cached_token_still_expires(factory: TokenFactory, validator: TokenValidator) -> None:
    """The cache never outlives the token: past exp + skew, validating again says "token expired"."""
    token = factory.tenant_signed(factory.app_claims(exp=at(120)))
    assert validator.validate(token).is_app  # now cached
    with time_machine.travel(at(120 + 61), tick=False), pytest.raises(TokenError) as refused:
        validator.validate(token)
    assert refused.value.reason == "token expired"


def test_a_cached_token_is_served_until_it_expires(
    tenant: HTTPServer, factory: TokenFactory, validator: TokenValidator
) -> None:
    token = factory.tenant_signed(factory.app_claims(exp=at(120)))
    validator.validate(token)
    tenant.clear()  # the tenant disappears: only the cache can answer now
    with time_machine.travel(at(119), tick=False):
        assert validator.validate(token).is_app


def test_unreachable_tenant_is_keys_unavailable_not_a_401(factory: TokenFactory) -> None:
    validator = TokenValidator(
        AuthSettings(
            factory.tenant, "https://127.0.0.1:1", ("api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api",)
        )
    )
    with pytest.raises(KeysUnavailable):
        validator.validate(factory.tenant_signed(factory.app_claims()))


def test_metadata_naming_another_issuer_is_keys_unavailable(
    tenant: HTTPServer, factory: TokenFactory, settings: AuthSettings
) -> None:
    """A metadata document for another issuer is refused: its keys would sign tokens we then accept."""
    tenant.clear()
    tenant.expect_request(f"/{factory.tenant}/v2.0/.well-known/openid-configuration").respond_with_json(
        {"issuer": "https://evil.example/v2.0", "jwks_uri": tenant.url_for("/keys")}
    )
    with pytest.raises(KeysUnavailable):
        TokenValidator(settings).validate(factory.tenant_signed(factory.app_claims()))
