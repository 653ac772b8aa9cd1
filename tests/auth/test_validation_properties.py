"""Property: whatever the input, ``TokenValidator.validate`` returns a principal or raises
``TokenError`` (401), ``TenantNotAllowed`` (403) or ``KeysUnavailable`` (503). Never anything else,
which would be a 500.

Two generators: tokens of any shape checked against the tenant's published key set (headers and
payloads of any JSON type and nesting, any number of segments, any bytes), and correctly signed
tokens whose claims have any JSON type. The tenant is the test's own (conftest.py): its key signs
here and a local stub publishes it, so every claim path is reached without the emulator.
"""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auth import KeysUnavailable, Principal, TenantNotAllowed, TokenError, TokenValidator
from tests.auth.token_factory import NOT_A_CUSTOMER, TokenFactory, at

EXAMPLES = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=25,
)
deeply_nested = st.integers(1, 3000).map(lambda n: "[" * n + "]" * n)


def segment(value: object) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@st.composite
def headers(draw, kid: str) -> object:
    """Mostly plausible headers with hostile values in the fields the validator reads, sometimes anything."""
    if draw(st.booleans()):
        return draw(json_values)
    header = draw(st.dictionaries(st.sampled_from(["typ", "x5t", "jku", "jwk", "b64", "zip"]), json_values))
    header["alg"] = draw(st.sampled_from(["RS256", "none", "HS256", "ES256"]) | json_values)
    for name, good in (("kid", kid), ("crit", ["exp"])):
        choice = draw(st.integers(0, 2))
        if choice == 1:
            header[name] = good
        elif choice == 2:
            header[name] = draw(json_values)
    return header


@st.composite
def tokens(draw, kid: str) -> str:
    kind = draw(st.integers(0, 3))
    if kind == 0:  # any text at all
        return draw(st.text(max_size=200))
    if kind == 1:  # any number of segments of any bytes
        parts = draw(st.lists(st.binary(max_size=60).map(segment) | st.text(max_size=30), min_size=0, max_size=7))
        return ".".join(parts)
    header = draw(headers(kid))
    payload = draw(json_values | st.just({"exp": at(3600)}))
    parts = [segment(header), segment(payload), segment(draw(st.binary(max_size=300)))]
    if kind == 3:  # deep nesting or raw JSON text in a segment
        parts[draw(st.integers(0, 2))] = segment(draw(deeply_nested | st.text(max_size=40)).encode())
    return ".".join(parts)


@given(data=st.data())
@EXAMPLES
def test_any_token_shape_is_a_token_error(validator: TokenValidator, factory: TokenFactory, data) -> None:
    token = data.draw(tokens(factory.kid))
    with pytest.raises(TokenError):  # nothing here is signed by the tenant: never accepted, never a crash
        validator.validate(token)


# -- correctly signed, claims of any type -------------------------------------------------------


def signed(factory: TokenFactory, claims: dict) -> str:
    """RS256 by hand with the tenant's key: PyJWT's encoder refuses some of the claim types this test sends."""
    signing_input = f"{segment({'alg': 'RS256', 'kid': factory.kid})}.{segment(claims)}"
    signature = factory.tenant_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{segment(signature)}"


def good_claims(factory: TokenFactory) -> dict:
    now = at(0)
    return {
        "aud": "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api",
        "iss": factory.v1_issuer,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "tid": factory.tenant,
        "ver": "1.0",
        "oid": "11111111-1111-1111-1111-111111111111",
        "sub": "11111111-1111-1111-1111-111111111111",
        "appid": "22222222-2222-2222-2222-222222222222",
        "idtyp": "user",
        "scp": "Notifications.Read",
        "roles": ["notification.read"],
        "upn": "alice@contoso.example",
    }


CLAIM_NAMES = [
    *("aud", "iss", "iat", "nbf", "exp", "tid", "ver", "oid", "sub", "appid", "idtyp", "scp", "roles", "upn"),
    *("azp", "preferred_username", "unique_name", "name"),
]


# A tenant id is sometimes another tenant's, spelled as Entra does or not quite.
claim_values = json_values | st.sampled_from([NOT_A_CUSTOMER, NOT_A_CUSTOMER.upper(), f" {NOT_A_CUSTOMER}"])


@given(
    changes=st.dictionaries(st.sampled_from(CLAIM_NAMES), claim_values, max_size=4),
    removed=st.sets(st.sampled_from(CLAIM_NAMES), max_size=2),
)
@EXAMPLES
def test_signed_tokens_with_claims_of_any_type(
    validator: TokenValidator, factory: TokenFactory, changes: dict, removed: set
) -> None:
    claims = {k: v for k, v in {**good_claims(factory), **changes}.items() if k not in removed}
    token = signed(factory, claims)
    try:
        caller = validator.validate(token)
    except (TokenError, TenantNotAllowed, KeysUnavailable):
        return
    # Accepted: then every field the apps use has the type they expect, and the tenant is one served.
    assert isinstance(caller, Principal)
    assert caller.tenant_id in validator.settings.tenants
    assert all(isinstance(v, str) and v for v in (caller.object_id, caller.tenant_id, caller.app_id))
    assert caller.username is None or isinstance(caller.username, str)
    assert caller.name is None or isinstance(caller.name, str)
    assert all(isinstance(r, str) for r in caller.roles)
    assert all(isinstance(s, str) for s in caller.scopes)


def test_the_unchanged_claims_are_accepted(validator: TokenValidator, factory: TokenFactory) -> None:
    """The generator's base case is a good token, so the property above is not vacuous."""
    token = signed(factory, good_claims(factory))
    assert validator.validate(token).username == "alice@contoso.example"
