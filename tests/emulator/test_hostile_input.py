"""Input an attacker or a confused client sends to the emulator: a 4xx, never a 500, and the
keep-alive connection stays usable after any error."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import socket
import ssl
import threading
from urllib.parse import parse_qs, urlencode, urlsplit

import msal
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from emulator.app import UnexpectedErrors
from tests.emulator_process import AZURE_CLI, EmulatorProcess

PROXY = "api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/access_as_user"
REDIRECT = "http://localhost:8400"


def _flow(emulator: EmulatorProcess, **extra: str) -> str:
    query = {"client_id": AZURE_CLI, "redirect_uri": REDIRECT, "response_type": "code", "scope": PROXY, **extra}
    return f"{emulator.authority}/oauth2/v2.0/authorize?{urlencode(query)}"


def _code(emulator: EmulatorProcess, auth_uri: str) -> str:
    alice = emulator.user("alice")
    response = emulator.session.post(
        auth_uri, data={"username": alice["userPrincipalName"], "password": alice["password"]}, allow_redirects=False
    )
    assert response.status_code == 302, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)["code"][0]


def _redeem(emulator: EmulatorProcess, code: str, verifier: str) -> dict:
    return emulator.token_request(
        grant_type="authorization_code",
        client_id=AZURE_CLI,
        code=code,
        redirect_uri=REDIRECT,
        scope=PROXY,
        code_verifier=verifier,
    ).json()


def test_non_ascii_password_on_the_sign_in_page_is_a_wrong_password(emulator: EmulatorProcess) -> None:
    response = emulator.session.post(
        _flow(emulator), data={"username": "alice", "password": "pässwörd①"}, allow_redirects=False
    )
    assert response.status_code == 200
    assert "AADSTS50126" in response.text


def test_non_ascii_code_verifier_is_a_pkce_mismatch(emulator: EmulatorProcess) -> None:
    verifier = "v" * 43
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    code = _code(emulator, _flow(emulator, code_challenge=challenge, code_challenge_method="S256"))
    assert _redeem(emulator, code, "vérifier-" * 5)["error_codes"] == [501481]


def test_non_ascii_challenge_is_refused_before_sign_in(emulator: EmulatorProcess) -> None:
    """RFC 7636 shapes: such a challenge never becomes a code (AADSTS501491 at the redirect URI)."""
    for method in ("S256", "plain"):
        response = emulator.session.get(
            _flow(emulator, code_challenge="défi" * 11, code_challenge_method=method), allow_redirects=False
        )
        assert response.status_code == 302
        assert "AADSTS501491" in parse_qs(urlsplit(response.headers["location"]).query)["error_description"][0]


def test_msal_pkce_still_works(emulator: EmulatorProcess) -> None:
    """The byte comparison accepts what it should: a real MSAL flow with S256."""
    app = msal.PublicClientApplication(AZURE_CLI, authority=emulator.authority, instance_discovery=False)
    flow = app.initiate_auth_code_flow([PROXY], redirect_uri=REDIRECT)
    location = emulator.session.post(
        flow["auth_uri"],
        data={"username": "alice", "password": emulator.user("alice")["password"]},
        allow_redirects=False,
    ).headers["location"]
    result = app.acquire_token_by_auth_code_flow(flow, {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()})
    assert "access_token" in result, result


def _tls_connection(emulator: EmulatorProcess) -> http.client.HTTPSConnection:
    context = ssl.create_default_context(cafile=emulator.bundle)
    return http.client.HTTPSConnection("localhost", emulator.port, context=context, timeout=10)


def test_errors_keep_the_connection_alive(emulator: EmulatorProcess) -> None:
    """400s, 404s and 405s from the emulator, then a good request, all on one connection."""
    connection = _tls_connection(emulator)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    bad = [
        ("POST", f"/{emulator.tenant}/oauth2/v2.0/token", "grant_type=nope", form),
        ("GET", "/no/such/path", None, {}),
        ("DELETE", "/admin/stats", None, {}),
        ("POST", f"/{emulator.tenant}/oauth2/v2.0/token", "client_id=%ff%fe", form),
    ]
    sockets = set()
    for _ in range(20):
        for method, path, body, headers in bad:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            assert 400 <= response.status < 500, (path, response.status)
            sockets.add(id(connection.sock))
    connection.request("GET", f"/{emulator.tenant}/v2.0/.well-known/openid-configuration")
    assert connection.getresponse().status == 200
    assert len(sockets) == 1  # never reconnected
    connection.close()


def test_an_unexpected_failure_is_a_500_and_the_connection_stays_usable() -> None:
    """The emulator's catch-all answers and ends the exception; uvicorn then keeps the connection."""

    async def broken(request):
        raise RuntimeError("a bug")

    async def fine(request):
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/broken", broken), Route("/fine", fine)], middleware=[Middleware(UnexpectedErrors)])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            threading.Event().wait(0.05)
        connection = http.client.HTTPConnection("127.0.0.1", sock.getsockname()[1], timeout=10)
        for _ in range(50):
            connection.request("GET", "/broken")
            response = connection.getresponse()
            assert response.status == 500
            assert b"server_error" in response.read()
            connection.request("GET", "/fine")
            assert connection.getresponse().read() == b"ok"
        connection.close()
    finally:
        server.should_exit = True
        thread.join(10)


# -- the admin API and the state files ------------------------------------------------------------


def _assignment(emulator: EmulatorProcess) -> dict:
    """Would give bob (no role in directory.json) the read role."""
    return {"principal": "bob", "resource": "notification-api", "role": "notification.read"}


def test_the_admin_api_takes_json_only(emulator: EmulatorProcess) -> None:
    """A page can POST text/plain cross-site without a preflight: such a body is never read."""
    body = json.dumps(_assignment(emulator))
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None):
        headers = {"Content-Type": content_type} if content_type else {}
        response = emulator.session.post(f"{emulator.origin}/admin/assignments", data=body, headers=headers)
        assert response.status_code == 415, (content_type, response.text)
    assert emulator.session.post(f"{emulator.origin}/admin/reset", timeout=10).status_code == 415


def test_the_admin_api_refuses_other_origins(emulator: EmulatorProcess) -> None:
    for origin in ("https://evil.example", "null", f"https://127.0.0.1:{emulator.port}", "http://localhost"):
        response = emulator.session.post(
            f"{emulator.origin}/admin/assignments", json=_assignment(emulator), headers={"Origin": origin}
        )
        assert response.status_code == 403, origin
        assert emulator.session.get(f"{emulator.origin}/admin/tokens", headers={"Origin": origin}).status_code == 403
    # Nothing changed: bob still has no role, so his token request is refused.
    bob = emulator.user("bob")
    refused = emulator.token_request(
        grant_type="password",
        client_id=AZURE_CLI,
        scope="api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/.default",
        username=bob["userPrincipalName"],
        password=bob["password"],
    ).json()
    assert refused["error_codes"] == [50105]


def test_the_admin_api_serves_its_own_origin_and_tools(emulator: EmulatorProcess) -> None:
    own = emulator.session.get(f"{emulator.origin}/admin/stats", headers={"Origin": emulator.origin})
    assert own.status_code == 200
    assert emulator.admin("POST", "reset", json={}) == {"reset": True}


def test_state_files_with_secrets_are_private(emulator: EmulatorProcess) -> None:
    for name in ("env", "identity-header"):
        assert (emulator.state_dir / name).stat().st_mode & 0o777 == 0o600, name
