"""Hostile input over real HTTP: each case once a 500 (or a 503 through the proxy), now a
4xx with a problem body, and not one traceback in the host's log."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import requests
from azure.identity import ManagedIdentityCredential

from tests.e2e.problems import problem
from tests.e2e.stack import Stack

API = "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/.default"
PROXY_SCOPE = "api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/access_as_user"
KID_ZERO = "eyJhbGciOiJSUzI1NiIsImtpZCI6MH0.e30.AAAA"  # {"alg":"RS256","kid":0}.{}.junk
DEEP = "[" * 988
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def tokens(stack: Stack, monkeypatch) -> dict[str, str]:
    stack.emulator.activate(monkeypatch)
    build_agents = ManagedIdentityCredential(client_id=stack.emulator.identity("build-agents")["clientId"])
    return {
        "build-agents": build_agents.get_token(API).token,
        "caller-app": ManagedIdentityCredential().get_token(API).token,
        "carol@proxy": stack.emulator.user_token("carol", PROXY_SCOPE),
    }


@pytest.fixture
def no_tracebacks(stack: Stack):
    """Fails the test if the stack's log gained a traceback while it ran."""
    before = "".join(stack.process.output) if stack.managed else ""
    yield
    if stack.managed:
        time.sleep(0.5)  # let the output pump catch up with the host's last lines
        assert "Traceback" not in "".join(stack.process.output)[len(before) :]


def call(stack: Stack, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, f"{stack.base_url}{path}", headers=headers, timeout=60, **kwargs)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/notifications"),
        ("POST", "/notifications"),
        ("GET", "/obo/notifications"),
        ("POST", "/obo/notifications"),
    ],
)
def test_a_kid_that_is_not_a_string_is_401_for_anyone(stack: Stack, no_tracebacks, method: str, path: str) -> None:
    response = call(stack, method, path, KID_ZERO)
    assert problem(response, 401)["detail"] == "malformed token"
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


@pytest.mark.parametrize(
    ("path", "who"),
    [("/notifications", "build-agents"), ("/obo/notifications", "carol@proxy"), ("/caller/notifications", None)],
)
def test_deeply_nested_json_is_400(stack: Stack, tokens, no_tracebacks, path: str, who: str | None) -> None:
    response = call(stack, "POST", path, tokens.get(who), data=DEEP, headers=dict(JSON))
    assert "nests deeper" in problem(response, 400)["detail"]


@pytest.mark.parametrize(
    "body",
    [
        b"{}" * 10,  # not one JSON value
        b'{"title": NaN}',  # Python's json would take it
        b"1" * 5000,  # an int past Python's 4300-digit limit: a ValueError, not a JSONDecodeError
        b'{"title": "\xff"}',  # not UTF-8
        b'"just a string"',
    ],
)
@pytest.mark.parametrize(("path", "who"), [("/notifications", "build-agents"), ("/obo/notifications", "carol@proxy")])
def test_bodies_that_are_not_a_json_object_are_400(
    stack: Stack, tokens, no_tracebacks, body: bytes, path: str, who: str
) -> None:
    problem(call(stack, "POST", path, tokens[who], data=body, headers=dict(JSON)), 400)


def test_a_lone_surrogate_in_a_field_is_400(stack: Stack, tokens, no_tracebacks) -> None:
    body = json.dumps({"recipient": str(uuid.uuid4()), "title": "\ud800", "body": "x"})
    refused = problem(call(stack, "POST", "/notifications", tokens["build-agents"], data=body, headers=dict(JSON)), 400)
    assert refused["errors"][0]["pointer"] == "#/title"


@pytest.mark.parametrize("top", ["²", "①", "٣", "1\n", " 5", "+5", "0x10", "1e2"])
def test_top_takes_ascii_digits_only_and_the_proxy_passes_the_400_through(
    stack: Stack, tokens, no_tracebacks, top: str
) -> None:
    assert (
        "top must be"
        in problem(call(stack, "GET", "/notifications", tokens["caller-app"], params={"top": top}), 400)["detail"]
    )
    through_proxy = call(stack, "GET", "/obo/notifications", tokens["carol@proxy"], params={"top": top})
    assert "top must be" in problem(through_proxy, 400)["detail"]


def test_an_id_with_a_trailing_newline_is_404(stack: Stack, tokens, no_tracebacks) -> None:
    problem(call(stack, "GET", "/notifications/1700000000000abcdefabcdef%0A", tokens["caller-app"]), 404)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"upn": 12345}, "malformed upn claim"),
        ({"upn": None, "preferred_username": ["alice"]}, "malformed preferred_username claim"),
        ({"exp": "NOW+3600"}, "malformed exp claim"),
        ({"ver": 1.0}, "malformed ver claim"),
        ({"aud": ["api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api"]}, "malformed aud claim"),
    ],
)
def test_signed_tokens_with_odd_claim_types_are_401(stack: Stack, no_tracebacks, claims: dict, reason: str) -> None:
    alice = stack.emulator.user("alice")
    now = int(time.time())
    good = {
        "aud": "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api",
        "iss": f"https://sts.windows.net/{stack.emulator.tenant}/",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "tid": stack.emulator.tenant,
        "ver": "1.0",
        "oid": alice["id"],
        "sub": "pairwise",
        "appid": stack.emulator.app_id("obo-proxy"),
        "idtyp": "user",
        "scp": _read_scope(stack),
        "roles": ["notification.read"],
        "upn": alice["userPrincipalName"],
    }
    changed = {k: (str(now + 3600) if v == "NOW+3600" else v) for k, v in claims.items()}
    token = stack.emulator.mint({k: v for k, v in {**good, **changed}.items() if v is not None})
    assert problem(call(stack, "GET", "/notifications", token), 401)["detail"] == reason


def _read_scope(stack: Stack) -> str:
    """The API's delegated read scope, from directory.json (its value is not ours to hard-code)."""
    scopes = stack.emulator.directory["applications"]["notification-api"]["scopes"]
    return next(s["value"] for s in scopes if "read" in s["value"].lower())
