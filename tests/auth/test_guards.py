"""The guard decorator: who gets in, and what everyone else is told (RFC 6750 + RFC 9457)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading

import azure.functions as func
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from auth import Authorizer, AuthRequirement, AuthSettings, principal_of
from auth.guards import requirement_of
from tests.auth.tenant_stub import authority_host
from tests.auth.token_factory import TokenFactory


@pytest.fixture
def api(monkeypatch, tenant: HTTPServer, factory: TokenFactory) -> Authorizer:
    monkeypatch.setenv(
        "TEST_AUDIENCES", f"{factory.api_app_id},api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api"
    )
    monkeypatch.setenv("AZURE_TENANT_ID", factory.tenant)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", authority_host(tenant))
    return Authorizer(lambda: AuthSettings.from_env("TEST_AUDIENCES"))


def call(
    api: Authorizer,
    token: str | None,
    role: str = "notification.create",
    scope: str = "Notifications.Create",
    *,
    authorization: str | None = None,
) -> func.HttpResponse:
    @api.requires(role, scope=scope)
    def handler(req: func.HttpRequest) -> func.HttpResponse:
        caller = principal_of(req)
        return func.HttpResponse(json.dumps({"oid": caller.object_id}), status_code=200)

    header = authorization if authorization is not None else (f"Bearer {token}" if token else None)
    headers = {"Authorization": header} if header is not None else {}
    return handler(func.HttpRequest("POST", "http://localhost/api/notifications", headers=headers, body=b""))


def problem(response: func.HttpResponse) -> dict:
    assert response.mimetype == "application/problem+json"
    body = json.loads(response.get_body())
    assert body["status"] == response.status_code
    assert body["title"]
    assert body["detail"]
    return body


def test_app_with_the_role_gets_in(api, factory) -> None:
    token = factory.tenant_signed(factory.app_claims(roles=["notification.create"]))
    response = call(api, token)
    assert response.status_code == 200
    assert json.loads(response.get_body())["oid"] == factory.caller["principalId"]


def test_app_without_the_role_is_403_naming_it(api, factory) -> None:
    response = call(api, factory.tenant_signed(factory.app_claims(roles=["notification.read"])))
    assert response.status_code == 403
    assert problem(response)["missing"] == ["app role notification.create"]
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer error="insufficient_scope"')
    assert "scope=" not in challenge  # an app role is no scope: RFC 6750's scope names scope values only


def challenge_scopes(response: func.HttpResponse) -> list[str] | None:
    """The scope values of the WWW-Authenticate challenge, as a client splits them (None: no scope)."""
    found = re.search(r'(?:^|[ ,])scope="([^"]*)"', response.headers["WWW-Authenticate"])
    return found.group(1).split(" ") if found else None


def test_the_challenges_scope_holds_only_scope_values(api, factory) -> None:
    """Regression: 403s answered scope="app role notification.create", three "scopes" to a client."""
    lacks_scope = factory.user_claims(scp="Notifications.Read", roles=["notification.create"])
    assert challenge_scopes(call(api, factory.tenant_signed(lacks_scope))) == ["Notifications.Create"]
    lacks_role = factory.user_claims(scp="Notifications.Create", roles=["notification.read"])
    refused = call(api, factory.tenant_signed(lacks_role))
    assert challenge_scopes(refused) is None
    assert problem(refused)["missing"] == ["user role notification.create"]


def test_user_needs_the_scope_and_the_role(api, factory) -> None:
    both = factory.user_claims(scp="Notifications.Create", roles=["notification.create"])
    assert call(api, factory.tenant_signed(both)).status_code == 200
    scope_only = factory.user_claims(scp="Notifications.Create", roles=["notification.read"])
    assert problem(call(api, factory.tenant_signed(scope_only)))["missing"] == ["user role notification.create"]
    role_only = factory.user_claims(scp="Notifications.Read", roles=["notification.create"])
    assert problem(call(api, factory.tenant_signed(role_only)))["missing"] == ["scope Notifications.Create"]
    # The role's value as a scope is not the scope: a token whose scp repeats the role name is refused.
    role_as_scope = factory.user_claims(scp="notification.create", roles=["notification.create"])
    assert problem(call(api, factory.tenant_signed(role_as_scope)))["missing"] == ["scope Notifications.Create"]


def test_a_token_with_neither_roles_nor_scp_is_401_invalid_token(api, factory) -> None:
    """A service-principal-less token: signed, for us, from our tenant, and authorizes nothing."""
    empty: list[str] = []
    for roles in (None, empty):
        response = call(api, factory.tenant_signed(factory.app_claims(roles=roles)))
        assert response.status_code == 401
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
        assert problem(response)["detail"] == "token has neither roles nor scp"


def test_no_token_is_a_bare_bearer_challenge(api) -> None:
    for authorization in (None, "", "Bearer", "Bearer   ", "Basic YWxpY2U6cHc="):
        response = call(api, None, authorization=authorization)
        assert response.status_code == 401, authorization
        assert response.headers["WWW-Authenticate"] == "Bearer"
        problem(response)


def test_bad_token_is_401_invalid_token_with_a_short_true_reason(api, factory, caplog) -> None:
    token = factory.tenant_signed(factory.app_claims(aud="api://elsewhere"))
    with caplog.at_level(logging.INFO):
        response = call(api, token)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="invalid_token", error_description="token is for another audience"'
    )
    assert problem(response)["detail"] == "token is for another audience"
    # The operator sees why; nobody sees the token.
    assert "InvalidAudienceError" in caplog.text
    assert token not in caplog.text
    assert token.split(".")[2] not in caplog.text


def test_unreachable_keys_are_503_with_retry_after(api, factory, monkeypatch) -> None:
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", "https://127.0.0.1:1")
    unreachable = Authorizer(lambda: AuthSettings.from_env("TEST_AUDIENCES"))
    response = call(unreachable, factory.tenant_signed(factory.app_claims()))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"


def test_async_handlers_are_guarded_too(api, factory) -> None:
    @api.requires("notification.read", scope="Notifications.Read")
    async def handler(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("in")

    anonymous_call = func.HttpRequest("GET", "http://localhost/api/x", body=b"")
    assert asyncio.run(handler(anonymous_call)).status_code == 401
    token = factory.tenant_signed(factory.app_claims())
    allowed = func.HttpRequest("GET", "http://localhost/api/x", headers={"Authorization": f"Bearer {token}"}, body=b"")
    assert asyncio.run(handler(allowed)).get_body() == b"in"


def test_guard_keeps_the_signature_the_worker_checks(api) -> None:
    import inspect

    @api.requires("notification.read", scope="Notifications.Read")
    def handler(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("in")

    assert list(inspect.signature(handler).parameters) == ["req"]
    declared = requirement_of(handler)
    assert isinstance(declared, AuthRequirement)
    assert declared.role == "notification.read"


def test_user_only_routes_refuse_app_tokens(api, factory) -> None:
    app_token = factory.tenant_signed(factory.app_claims(roles=["notification.read"]))
    user_token = factory.tenant_signed(factory.user_claims(scp="access_as_user", roles=None))

    @api.requires(scope="access_as_user")
    def handler(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("in")

    def with_token(token: str) -> func.HttpResponse:
        return handler(
            func.HttpRequest("GET", "http://localhost/api/x", headers={"Authorization": f"Bearer {token}"}, body=b"")
        )

    refused = with_token(app_token)
    assert refused.status_code == 403
    assert "app-only tokens are not accepted" in problem(refused)["detail"]
    assert challenge_scopes(refused) == ["access_as_user"]
    assert with_token(user_token).get_body() == b"in"
    with pytest.raises(ValueError):
        api.requires()
    with pytest.raises(ValueError):
        api.requires("notification.read")  # no scope: it may not default to the role's value
    with pytest.raises(ValueError):
        api.requires("notification.read", scope="notification.read")


def test_the_async_guard_fetches_keys_off_the_event_loop(httpserver: HTTPServer, factory) -> None:
    """While the tenant's keys are being fetched (blocking HTTP), other coroutines keep running.

    The key set answers only after a coroutine on the loop says so: were the fetch run on the loop,
    that coroutine could not run, and the stub would answer on its timeout with the flag unset.
    """
    fetching, released = threading.Event(), threading.Event()
    released_in_time: list[bool] = []

    def slow_keys(request: Request) -> Response:
        fetching.set()
        released_in_time.append(released.wait(timeout=10))
        return Response(json.dumps(factory.jwks()), content_type="application/json")

    keys = HTTPServer(port=0)
    keys.expect_request("/keys").respond_with_handler(slow_keys)
    keys.start()
    try:
        httpserver.expect_request(f"/{factory.tenant}/v2.0/.well-known/openid-configuration").respond_with_json(
            {"issuer": factory.v2_issuer, "jwks_uri": keys.url_for("/keys")}
        )
        audiences = (factory.api_app_id, "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api")
        settings = AuthSettings(factory.tenant, authority_host(httpserver), audiences)
        api = Authorizer(lambda: settings)

        @api.requires("notification.read", scope="Notifications.Read")
        async def handler(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("in")

        token = factory.tenant_signed(factory.app_claims())
        bearer = {"Authorization": f"Bearer {token}"}
        request = func.HttpRequest("GET", "http://localhost/api/x", headers=bearer, body=b"")

        async def release_once_fetching() -> None:
            while not fetching.is_set():
                await asyncio.sleep(0.01)
            released.set()

        async def both() -> func.HttpResponse:
            response, _ = await asyncio.gather(handler(request), release_once_fetching())
            return response

        assert asyncio.run(both()).get_body() == b"in"
        assert released_in_time == [True]
    finally:
        keys.stop()
