"""The validator through a signing-key rollover, as Entra rolls keys: a new key used at once, a flood of
made-up key ids, a key set that fails to load, a key withdrawn. The tenant's keys are served over real
HTTP by a stub whose published set each test changes; time is a fake clock (no sleeping, no timing)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from appsettings import SettingError
from auth import AuthSettings, KeysUnavailable, TokenError, TokenValidator
from auth.key_cache import SigningKeyCache
from tests.auth.tenant_stub import authority_host, key_set_fetches
from tests.auth.token_factory import TokenFactory

COOLDOWN, REFRESH = 300, 3600
OTHER_TENANT = "11111111-2222-3333-4444-555555555555"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RollingTenant:
    """Tenants' metadata and key sets on the stub; ``keys`` is what each tenant publishes right now.

    ``broken`` makes the key set answer that instead (a status code, or a body that is not a key set).
    """

    def __init__(self, server: HTTPServer, factory: TokenFactory) -> None:
        self.server, self.origin = server, authority_host(server)
        self.keys: dict[str, dict[str, rsa.RSAPrivateKey]] = {factory.tenant: {factory.kid: factory.tenant_key}}
        self.broken: Response | None = None
        for tenant in (factory.tenant, OTHER_TENANT):
            server.expect_request(f"/{tenant}/v2.0/.well-known/openid-configuration").respond_with_json(
                {"issuer": f"{self.origin}/{tenant}/v2.0", "jwks_uri": f"{self.origin}/{tenant}/discovery/v2.0/keys"}
            )
            server.expect_request(f"/{tenant}/discovery/v2.0/keys").respond_with_handler(self._key_set)

    def _key_set(self, request: Request) -> Response:
        if self.broken is not None:
            return self.broken
        tenant = request.path.split("/")[1]
        published = []
        for kid, key in self.keys.get(tenant, {}).items():
            jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            # Entra's v2 key set: kid, no alg, and the issuer property with the {tenantid} template.
            published.append({**jwk, "kid": kid, "use": "sig", "issuer": f"{self.origin}/{{tenantid}}/v2.0"})
        return Response(json.dumps({"keys": published}), content_type="application/json")

    def add(self, kid: str, tenant: str | None = None) -> rsa.RSAPrivateKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.keys.setdefault(tenant or next(iter(self.keys)), {})[kid] = key
        return key

    def retire(self, kid: str) -> None:
        for keys in self.keys.values():
            keys.pop(kid, None)


@pytest.fixture
def rolling(httpserver: HTTPServer, factory: TokenFactory) -> RollingTenant:
    return RollingTenant(httpserver, factory)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def validator(rolling: RollingTenant, factory: TokenFactory, clock: Clock) -> TokenValidator:
    audiences = (factory.api_app_id, factory.api_uri)
    settings = AuthSettings(factory.tenant, rolling.origin, audiences, COOLDOWN, REFRESH)
    return TokenValidator(settings, clock=clock)


def signed(factory: TokenFactory, key: rsa.RSAPrivateKey, kid: str, **claims: Any) -> str:
    """A v1 token as Entra signs it: both x5t and kid in the header."""
    return jwt.encode(factory.app_claims(**claims), key, "RS256", headers={"kid": kid, "x5t": kid})


@pytest.fixture
def warm(validator: TokenValidator, factory: TokenFactory, httpserver: HTTPServer) -> Iterator[str]:
    """The validator has read the key set once (start-up) and holds a validated token."""
    token = factory.tenant_signed(factory.app_claims())
    assert validator.validate(token).is_app
    assert key_set_fetches(httpserver) == 1
    yield token


def test_a_key_used_the_moment_it_is_published_costs_one_fetch(
    warm: str, validator: TokenValidator, rolling: RollingTenant, factory: TokenFactory, httpserver: HTTPServer
) -> None:
    new_key = rolling.add("new-key")
    tokens = [signed(factory, new_key, "new-key", uti=str(i)) for i in range(20)]
    assert all(validator.validate(t).is_app for t in tokens)
    assert validator.validate(warm).is_app  # the old key is still published
    assert key_set_fetches(httpserver) == 2


def test_a_new_key_right_after_start_up_is_accepted_where_pyjwkclient_refuses_it(
    warm: str, validator: TokenValidator, rolling: RollingTenant, factory: TokenFactory
) -> None:
    """PyJWKClient starts its cooldown at every fetch, start-up included: a key first used within the
    cooldown is refused for the rest of it. Ours counts the cooldown from unknown-kid refreshes only."""
    pyjwt = jwt.PyJWKClient(f"{rolling.origin}/{factory.tenant}/discovery/v2.0/keys", cooldown_duration=COOLDOWN)
    pyjwt.get_signing_key(factory.kid)  # its start-up fetch
    new_key = rolling.add("new-key")
    token = signed(factory, new_key, "new-key")
    with pytest.raises(jwt.PyJWKClientError):
        pyjwt.get_signing_key_from_jwt(token)
    assert validator.validate(token).is_app


def test_a_periodic_refresh_does_not_start_the_cooldown(
    warm: str, validator: TokenValidator, rolling: RollingTenant, factory: TokenFactory, clock: Clock
) -> None:
    clock.advance(REFRESH)
    assert validator.validate(warm).is_app  # the periodic refresh runs here
    new_key = rolling.add("new-key")
    assert validator.validate(signed(factory, new_key, "new-key")).is_app


def test_a_flood_of_unknown_kids_costs_one_fetch_per_cooldown(
    warm: str, validator: TokenValidator, factory: TokenFactory, httpserver: HTTPServer, clock: Clock
) -> None:
    forged = [factory.attacker_signed(factory.app_claims(), kid=f"made-up-{i}") for i in range(500)]
    for token in forged:
        with pytest.raises(TokenError) as refused:
            validator.validate(token)
        assert refused.value.reason == "signing key not found"
    assert key_set_fetches(httpserver) == 2  # start-up, then one refresh for the first unknown kid
    clock.advance(COOLDOWN - 1)
    for token in forged[:100]:
        with pytest.raises(TokenError):
            validator.validate(token)
    assert key_set_fetches(httpserver) == 2
    clock.advance(1)
    for token in forged[:100]:
        with pytest.raises(TokenError):
            validator.validate(token)
    assert key_set_fetches(httpserver) == 3  # the cooldown is over: one more, then quiet again
    assert validator.validate(warm).is_app  # nobody else was refused meanwhile


def test_a_key_published_during_the_cooldown_waits_for_its_end(
    warm: str, validator: TokenValidator, rolling: RollingTenant, factory: TokenFactory, clock: Clock
) -> None:
    """Microsoft's trade-off, kept: after an unknown-kid refresh, a brand-new key waits out the cooldown."""
    with pytest.raises(TokenError):
        validator.validate(factory.attacker_signed(factory.app_claims(), kid="made-up"))
    token = signed(factory, rolling.add("new-key"), "new-key")
    with pytest.raises(TokenError):
        validator.validate(token)
    clock.advance(COOLDOWN)
    assert validator.validate(token).is_app


@pytest.mark.parametrize(
    "answer",
    [
        Response("unavailable", status=503),
        Response("not json", content_type="application/json"),
        Response('{"keys": "none"}', content_type="application/json"),
        Response('{"keys": [{"kty": "RSA", "kid": "k", "n": "??", "e": "AQAB"}]}', content_type="application/json"),
        Response('{"keys": [{"kty": "oct", "kid": "k", "k": "c2VjcmV0"}]}', content_type="application/json"),
        Response("", status=302, headers={"Location": "https://evil.example/keys"}),
    ],
    ids=["503", "not JSON", "keys not a list", "broken RSA key", "only an HMAC secret", "redirect"],
)
def test_a_failed_or_malformed_refresh_keeps_the_last_good_keys(
    warm: str,
    validator: TokenValidator,
    rolling: RollingTenant,
    factory: TokenFactory,
    clock: Clock,
    httpserver: HTTPServer,
    answer: Response,
) -> None:
    rolling.broken = answer
    clock.advance(REFRESH)
    fresh = factory.tenant_signed(factory.app_claims(uti="not cached"))
    assert validator.validate(fresh).is_app  # the refresh failed; the last good key still verifies
    assert validator.validate(warm).is_app
    assert key_set_fetches(httpserver) == 2
    with pytest.raises(KeysUnavailable):  # an unknown kid while the tenant cannot answer: our problem
        validator.validate(factory.attacker_signed(factory.app_claims(), kid="made-up"))
    rolling.broken = None
    clock.advance(COOLDOWN)
    assert validator.validate(signed(factory, rolling.add("new-key"), "new-key")).is_app


def test_a_withdrawn_key_stops_validating_within_one_refresh_period(
    warm: str, validator: TokenValidator, rolling: RollingTenant, factory: TokenFactory, clock: Clock
) -> None:
    """Even a token validated (and cached) before: the cache is not consulted once a refresh is due."""
    rolling.add("successor")
    rolling.retire(factory.kid)
    clock.advance(REFRESH - 1)
    assert validator.validate(warm).is_app  # not yet: Entra gives no notice, we learn at the refresh
    clock.advance(1)
    with pytest.raises(TokenError) as refused:
        validator.validate(warm)
    assert refused.value.reason == "signing key not found"


def test_a_key_set_change_empties_the_validated_token_cache(
    warm: str, validator: TokenValidator, rolling: RollingTenant, factory: TokenFactory
) -> None:
    """An emergency roll: the first token signed by the new key refreshes the set, which no longer holds
    the old key; tokens validated with the old key are refused from then on, cached or not."""
    new_key = rolling.add("new-key")
    rolling.retire(factory.kid)
    assert validator.validate(signed(factory, new_key, "new-key")).is_app
    assert validator.cached(warm) is None
    with pytest.raises(TokenError) as refused:
        validator.validate(warm)
    assert refused.value.reason == "signing key not found"


def test_a_failed_first_fetch_is_not_retried_at_once(
    rolling: RollingTenant, validator: TokenValidator, factory: TokenFactory, httpserver: HTTPServer, clock: Clock
) -> None:
    rolling.broken = Response("down", status=500)
    token = factory.tenant_signed(factory.app_claims())
    for _ in range(50):
        with pytest.raises(KeysUnavailable):
            validator.validate(token)
    assert key_set_fetches(httpserver) == 1
    rolling.broken = None
    clock.advance(10)
    assert validator.validate(token).is_app


def test_keys_are_cached_per_tenant_with_their_issuer(
    rolling: RollingTenant, factory: TokenFactory, clock: Clock, httpserver: HTTPServer
) -> None:
    """Each tenant's keys come from its own metadata; one tenant's key is unknown in another."""
    rolling.add("other-key", OTHER_TENANT)
    cache = SigningKeyCache(rolling.origin, clock=clock)
    home = cache.key(factory.tenant, factory.kid)
    assert home.issuer == f"{rolling.origin}/{{tenantid}}/v2.0"
    assert cache.key(OTHER_TENANT.upper(), "other-key").kid == "other-key"
    with pytest.raises(TokenError):
        cache.key(OTHER_TENANT, factory.kid)
    assert key_set_fetches(httpserver) == 3  # two first fetches, one unknown-kid refresh for the other tenant
    assert set(cache.published(factory.tenant)) == {factory.kid}


def test_a_key_set_without_issuer_properties_gives_keys_without_issuer(
    httpserver: HTTPServer, factory: TokenFactory
) -> None:
    """Entra's v1 key sets carry no issuer; the rule that uses it skips such keys."""
    origin = authority_host(httpserver)
    httpserver.expect_request(f"/{factory.tenant}/v2.0/.well-known/openid-configuration").respond_with_json(
        {"issuer": f"{origin}/{factory.tenant}/v2.0", "jwks_uri": f"{origin}/keys"}
    )
    httpserver.expect_request("/keys").respond_with_json(factory.jwks())
    assert SigningKeyCache(origin).key(factory.tenant, factory.kid).issuer is None


def test_a_tenant_id_that_is_no_guid_never_reaches_a_url(
    rolling: RollingTenant, httpserver: HTTPServer, factory: TokenFactory
) -> None:
    cache = SigningKeyCache(rolling.origin)
    for tid in ("../../evil", "common", f"{factory.tenant}/x", ""):
        with pytest.raises(TokenError) as refused:
            cache.key(tid, factory.kid)
        assert refused.value.reason == "malformed tid claim"
    assert httpserver.log == []


@pytest.mark.parametrize("value", ["0", "-5", "1.5", "five", "86401", "３００"])
def test_key_cache_settings_must_be_whole_seconds(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("AZURE_TENANT_ID", OTHER_TENANT)
    monkeypatch.setenv("API_AUDIENCES", "api://x")
    monkeypatch.setenv("TOKEN_KEYS_REFRESH_SECONDS", value)
    with pytest.raises(SettingError, match="TOKEN_KEYS_REFRESH_SECONDS"):
        AuthSettings.from_env("API_AUDIENCES")


def test_key_cache_settings_default_to_microsofts_guidance(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_TENANT_ID", OTHER_TENANT)
    monkeypatch.setenv("API_AUDIENCES", "api://x")
    monkeypatch.delenv("TOKEN_KEYS_COOLDOWN_SECONDS", raising=False)
    monkeypatch.setenv("TOKEN_KEYS_REFRESH_SECONDS", " 600 ")
    settings = AuthSettings.from_env("API_AUDIENCES")
    assert (settings.key_cooldown_seconds, settings.key_refresh_seconds) == (300, 600)


def test_a_refresh_due_for_one_tenant_leaves_the_others_cached_validations_alone(
    rolling: RollingTenant, factory: TokenFactory, clock: Clock
) -> None:
    """Only the tenant whose keys are due skips the validated-token cache (and so meets the refresh)."""
    other_key = rolling.add("other-key", OTHER_TENANT)
    audiences = (factory.api_app_id, factory.api_uri)
    tenants = frozenset({factory.tenant, OTHER_TENANT})
    settings = AuthSettings(factory.tenant, rolling.origin, audiences, COOLDOWN, REFRESH, allowed_tenants=tenants)
    validator = TokenValidator(settings, clock=clock)
    home = factory.tenant_signed(factory.app_claims())
    other = signed(factory, other_key, "other-key", tid=OTHER_TENANT, iss=f"https://sts.windows.net/{OTHER_TENANT}/")
    assert validator.validate(home).is_app
    clock.advance(REFRESH / 2)
    assert validator.validate(other).is_app
    clock.advance(REFRESH / 2)
    assert validator.cached(other) is not None
    assert validator.cached(home) is None  # due: validate() will refresh the home tenant's keys first
