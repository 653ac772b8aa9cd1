"""The attack battery: each class of attack an outside run found against the local sign-in, replayed
against the real emulator process so no later change can reopen it.

Classes: redirect URIs (what Python and browsers read differently, what is not registered), PKCE
(downgrades, short challenges, retries), the device code flow (re-approval, guessing, flooding),
forged and oddly shaped tokens at the emulator's own trust points (on-behalf-of, federated
credentials, the token inspector), and the admin API's bodies. Every request must end in a 4xx
(or the page Entra shows), never a 500, and never hand a code to a host nobody registered.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator import redirect_uris
from emulator.redirect_uris import RedirectUri
from tests.emulator_process import AZURE_CLI, EmulatorProcess

PROXY = "api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/access_as_user"
LISTENER = "http://localhost:8400"

# -- redirect URIs -----------------------------------------------------------------------------

# Each of these must never receive a code: not registered, or read differently by a browser.
FOREIGN_REDIRECTS = {
    "backslash userinfo (browsers: evil.example)": "https://evil.example:18443\\@localhost/",
    "backslash before @, http": "http://evil.example\\@localhost:8400",
    "userinfo": "http://user@localhost:8400",
    "localhost as userinfo": "http://localhost:8400@evil.example",
    "fragment": "http://localhost:8400/#frag",
    "port 65536": "http://localhost:65536",
    "port 0": "http://localhost:0",
    "empty port": "http://localhost:/",
    "signed port": "http://localhost:+8400",
    "foreign https host": "https://evil.example",
    "foreign host on the listener's port": "http://evil.example:8400",
    "suffix of localhost": "http://localhost.evil.example:8400",
    "percent-encoded loopback": "http://127%2e0%2e0%2e1:8400",
    "IPv6 loopback (not registered; Entra does not support it)": "http://[::1]:8400",
    "backslashes for slashes": "http:\\\\evil.example\\",
    "scheme-relative": "//evil.example/",
    "javascript": "javascript:alert(document.domain)",
    "tab inside": "http://local\thost:8400",
    "space inside": "http://localhost:8400/ x",
    "another path": "http://localhost:8400/elsewhere",
    "https on loopback (registered as http)": "https://localhost:8400",
    "data": "data:text/html,<script>alert(1)</script>",
    "non-ASCII host": "http://lоcalhost:8400",  # Cyrillic o
    "over 256 characters": "http://localhost:8400/" + "a" * 300,
}
REGISTERED_REDIRECTS = (
    "http://localhost:8400",
    "http://localhost:1/",
    "http://localhost",
    "HTTP://LOCALHOST:8400",
    "https://login.microsoftonline.com/common/oauth2/nativeclient",
)


def _authorize(emulator: EmulatorProcess, **params: str) -> str:
    query = {"client_id": AZURE_CLI, "response_type": "code", "scope": PROXY, "redirect_uri": LISTENER, **params}
    return f"{emulator.authority}/oauth2/v2.0/authorize?{urlencode(query)}"


def _sign_in(emulator: EmulatorProcess, url: str, user: str = "alice"):
    login = emulator.user(user)
    return emulator.session.post(
        url, data={"username": login["userPrincipalName"], "password": login["password"]}, allow_redirects=False
    )


def _whatwg_hosts(uris: list[str]) -> list[str | None]:
    """How a browser reads each URI's host: Node's URL class implements the WHATWG URL standard."""
    script = (
        "const uris = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "console.log(JSON.stringify(uris.map(u => { try { return new URL(u).host } catch { return null } })))"
    )
    result = subprocess.run(["node", "-e", script], input=json.dumps(uris), capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", FOREIGN_REDIRECTS)
def test_a_foreign_redirect_uri_never_gets_a_code(emulator: EmulatorProcess, name: str) -> None:
    uri = FOREIGN_REDIRECTS[name]
    for response_type, mode in (("code", "query"), ("code", "form_post"), ("token", "form_post")):
        url = _authorize(emulator, redirect_uri=uri, response_type=response_type, response_mode=mode)
        for response in (emulator.session.get(url, allow_redirects=False), _sign_in(emulator, url)):
            assert response.status_code == 400, (name, response.status_code)
            assert "location" not in response.headers
            assert "AADSTS50011" in response.text
            assert "action=" not in response.text
            assert "code=" not in response.text


def test_the_registered_loopback_listener_gets_its_code_on_any_port(emulator: EmulatorProcess) -> None:
    for uri in REGISTERED_REDIRECTS:
        response = _sign_in(emulator, _authorize(emulator, redirect_uri=uri))
        assert response.status_code == 302, (uri, response.text)
        assert response.headers["location"].lower().startswith(uri.lower().rstrip("/")), uri
        assert "code" in parse_qs(urlsplit(response.headers["location"]).query)


def test_the_form_post_target_is_the_uri_browsers_read(emulator: EmulatorProcess) -> None:
    """The action attribute is rebuilt from the parsed URI; a browser resolves it to the same host."""
    pages = [
        _sign_in(emulator, _authorize(emulator, redirect_uri=u, response_mode="form_post"))
        for u in REGISTERED_REDIRECTS
    ]
    actions = [re.search(r'action="([^"]+)"', page.text).group(1) for page in pages]  # type: ignore[union-attr]
    assert [urlsplit(a).netloc for a in actions] == _whatwg_hosts(actions)


def test_python_and_browsers_disagree_on_the_refused_uris() -> None:
    """Why parsing alone cannot be trusted: the classic case reads as two different hosts."""
    uri = FOREIGN_REDIRECTS["backslash userinfo (browsers: evil.example)"]
    assert urlsplit(uri).hostname == "localhost"
    assert _whatwg_hosts([uri]) == ["evil.example:18443"]


def test_redirect_matching_rules() -> None:
    """Exact for web and SPA URIs; any port only for a public client's http loopback URI."""
    web = (RedirectUri("web", "https://app.contoso.example/signin"), RedirectUri("web", "http://localhost:7071/cb"))
    public = (RedirectUri("publicClient", "http://127.0.0.1/cb"),)
    assert redirect_uris.match("https://app.contoso.example/signin", web) is not None
    for refused in (
        "https://app.contoso.example/signin/",
        "https://app.contoso.example/SIGNIN",
        "https://app.contoso.example:444/signin",
        "https://app.contoso.example/signin?x=1",
        "http://localhost:7072/cb",  # a web app's loopback URI keeps its port
    ):
        assert redirect_uris.match(refused, web) is None, refused
    assert redirect_uris.match("http://127.0.0.1:50123/cb", public) is not None
    assert redirect_uris.match("http://localhost:50123/cb", public) is None  # no cross-matching of hosts
    assert redirect_uris.match("http://127.0.0.1:50123/other", public) is None


def test_state_and_nonce_are_capped(emulator: EmulatorProcess) -> None:
    for name in ("state", "nonce"):
        response = emulator.session.get(_authorize(emulator, **{name: "s" * 1801}), allow_redirects=False)
        assert response.status_code == 400
        assert "AADSTS90015" in response.text
        assert "location" not in response.headers
        assert emulator.session.get(_authorize(emulator, **{name: "s" * 1800})).status_code == 200


# -- PKCE --------------------------------------------------------------------------------------

VERIFIER = "v" * 43
S256 = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()


def _redirect_error(response) -> str:
    assert response.status_code == 302, response.text
    return parse_qs(urlsplit(response.headers["location"]).query).get("error_description", [""])[0]


@pytest.mark.parametrize(
    ("method", "challenge", "code"),
    [
        ("s256", S256, "AADSTS50149"),  # case matters: not a downgrade to plain
        ("S512", S256, "AADSTS50149"),
        ("", S256, "AADSTS50149"),
        ("S256 ", S256, "AADSTS50149"),
        ("S256", "x", "AADSTS501491"),  # one character
        ("S256", S256 + "A", "AADSTS501491"),
        ("S256", S256[:-1] + "=", "AADSTS501491"),
        ("plain", "short", "AADSTS501491"),
        ("plain", "p" * 129, "AADSTS501491"),
        ("plain", "p" * 42 + "!", "AADSTS501491"),
    ],
)
def test_pkce_methods_and_challenge_shapes(emulator: EmulatorProcess, method: str, challenge: str, code: str) -> None:
    url = _authorize(emulator, code_challenge=challenge, code_challenge_method=method)
    assert code in _redirect_error(emulator.session.get(url, allow_redirects=False))
    assert code in _redirect_error(_sign_in(emulator, url))


def _code(emulator: EmulatorProcess, **pkce: str) -> str:
    response = _sign_in(emulator, _authorize(emulator, **pkce))
    assert response.status_code == 302, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)["code"][0]


def _redeem(emulator: EmulatorProcess, code: str, **extra: str) -> dict:
    form = {"grant_type": "authorization_code", "client_id": AZURE_CLI, "code": code, "redirect_uri": LISTENER}
    return emulator.token_request(**form, scope=PROXY, **extra).json()


@pytest.mark.parametrize(
    "wrong",
    [
        {},  # no verifier at all
        {"code_verifier": ""},
        {"code_verifier": "v" * 42},  # one short of RFC 7636's minimum
        {"code_verifier": "v" * 129},
        {"code_verifier": "w" * 43},
        {"code_verifier": S256},  # the challenge itself: S256 is not plain
        {"code_verifier": "vérifier" * 6},
    ],
)
def test_a_failed_redemption_burns_the_code(emulator: EmulatorProcess, wrong: dict) -> None:
    code = _code(emulator, code_challenge=S256, code_challenge_method="S256")
    assert _redeem(emulator, code, **wrong)["error_codes"] == [501481]
    assert _redeem(emulator, code, code_verifier=VERIFIER)["error_codes"] == [54005]


def test_plain_pkce_and_no_pkce_still_work(emulator: EmulatorProcess) -> None:
    plain = "p" * 43
    assert "access_token" in _redeem(emulator, _code(emulator, code_challenge=plain), code_verifier=plain)
    s256 = _code(emulator, code_challenge=S256, code_challenge_method="S256")
    assert "access_token" in _redeem(emulator, s256, code_verifier=VERIFIER)
    assert "access_token" in _redeem(emulator, _code(emulator))


# -- device code -------------------------------------------------------------------------------


def _device_code(emulator: EmulatorProcess) -> dict:
    response = emulator.session.post(
        f"{emulator.authority}/oauth2/v2.0/devicecode", data={"client_id": AZURE_CLI, "scope": PROXY}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def _device_login(emulator: EmulatorProcess, user_code: str, username: str, password: str):
    form = {"user_code": user_code, "username": username, "password": password}
    return emulator.session.post(f"{emulator.origin}/devicelogin", data=form, timeout=10)


def _poll(emulator: EmulatorProcess, code: dict) -> dict:
    grant = "urn:ietf:params:oauth:grant-type:device_code"
    return emulator.token_request(grant_type=grant, client_id=AZURE_CLI, device_code=code["device_code"]).json()


def test_a_device_code_is_approved_once(emulator: EmulatorProcess, verify) -> None:
    code = _device_code(emulator)
    emulator.admin("POST", "device-codes", json={"userCode": code["user_code"], "user": "alice"})
    second = emulator.session.post(
        f"{emulator.origin}/admin/device-codes", json={"userCode": code["user_code"], "user": "carol"}, timeout=10
    )
    assert second.status_code == 400
    carol = emulator.user("carol")
    page = _device_login(emulator, code["user_code"], carol["userPrincipalName"], carol["password"])
    assert "AADSTS70018" in page.text
    assert verify(_poll(emulator, code)["access_token"])["oid"] == emulator.user("alice")["id"]


def test_device_login_takes_any_text_without_a_500(emulator: EmulatorProcess) -> None:
    code = _device_code(emulator)
    alice = emulator.user("alice")
    for user_code, password in (
        (code["user_code"], "pässwörd①"),  # non-ASCII password
        ("CÖDE-ÜNI①", alice["password"]),  # non-ASCII user code
        ("\x00" * 8, alice["password"]),
        ("A" * 10_000, alice["password"]),
    ):
        page = _device_login(emulator, user_code, alice["userPrincipalName"], password)
        assert page.status_code == 200, page.text
        assert "AADSTS50126" in page.text or "AADSTS70018" in page.text
    response = emulator.session.post(
        f"{emulator.origin}/admin/device-codes", json={"userCode": "CÖDE①", "user": "alice"}, timeout=10
    )
    assert response.status_code == 400


def test_device_code_guessing_is_limited(emulator: EmulatorProcess) -> None:
    code = _device_code(emulator)
    alice = emulator.user("alice")
    for guess in range(10):
        page = _device_login(emulator, f"WRONG{guess:03d}", alice["userPrincipalName"], alice["password"])
        assert "AADSTS70018" in page.text
    # Now even the right code is refused until the window passes: guessing cannot go on.
    page = _device_login(emulator, code["user_code"], alice["userPrincipalName"], alice["password"])
    assert "AADSTS50053" in page.text
    assert _poll(emulator, code)["error"] == "authorization_pending"


def test_device_code_issue_is_rate_limited(emulator: EmulatorProcess) -> None:
    for _ in range(20):
        _device_code(emulator)
    refused = emulator.session.post(
        f"{emulator.authority}/oauth2/v2.0/devicecode", data={"client_id": AZURE_CLI, "scope": PROXY}, timeout=10
    )
    assert refused.status_code == 429
    assert refused.json()["error_codes"] == [90055]


# -- forged and oddly shaped tokens at the emulator's own trust points --------------------------

ODD_VALUES = [
    None,
    0,
    1.5,
    True,
    [],
    ["a", "b"],
    [{"a": 1}],
    [[1]],
    {"a": 1},
    "x\r\nSet-Cookie: a=b",
    10**30,
    -1,
    "",
    "é" * 300,
]
CLAIMS = ("sub", "aud", "exp", "iat", "nbf", "oid", "tid", "scp", "roles", "ver", "appid", "azp", "idtyp")
FIC = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
READ = "notification-api|notification.read|Notifications.Read"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forgeries(emulator: EmulatorProcess, good: str) -> dict[str, str]:
    """Tokens no key of the tenant signed, built from a good one's claims."""
    header, payload, signature = good.split(".")
    alg_none = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    public_pem = emulator.session.get(f"{emulator.authority}/discovery/v2.0/keys").json()["keys"][0]
    hs256 = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": public_pem["kid"]}).encode())
    return {
        "alg none": f"{alg_none}.{payload}.",
        "HS256 keyed with the public key": f"{hs256}.{payload}.{signature}",
        "signature cut short": f"{header}.{payload}.{signature[:-8]}",
        "claims changed after signing": f"{header}.{_b64(b'{}')}.{signature}",
        "no signature": f"{header}.{payload}.",
        "four parts": f"{good}.{signature}",
        "not base64": f"{header}.{payload}.%%%",
        "empty": "",
        "huge": "a" * 100_000,
    }


def _federated_claims(emulator: EmulatorProcess) -> dict:
    now = int(time.time())
    identity = emulator.identity("obo-proxy-identity")["principalId"]
    issuer = f"{emulator.authority}/v2.0"
    return {"iss": issuer, "sub": identity, "aud": "api://AzureADTokenExchange", "exp": now + 600, "iat": now}


def _federated_grant(emulator: EmulatorProcess, assertion: str):
    return emulator.token_request(
        grant_type="client_credentials",
        client_id=emulator.app_id("obo-proxy"),
        client_assertion=assertion,
        client_assertion_type=FIC,
        scope="https://vault.azure.net/.default",
    )


def _obo_grant(emulator: EmulatorProcess, assertion: str, secret: str):
    return emulator.token_request(
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        client_id=emulator.app_id("obo-proxy"),
        client_secret=secret,
        assertion=assertion,
        requested_token_use="on_behalf_of",
        scope="api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/Notifications.Read",
    )


def _inspect(emulator: EmulatorProcess, token: str):
    return emulator.session.post(f"{emulator.origin}/", data={"token": token, "permission": READ}, timeout=10)


def test_odd_claim_types_are_refused_not_a_500(emulator: EmulatorProcess) -> None:
    """Every claim, every JSON type, signed with the tenant's real key: a 4xx, or a page that says why."""
    secret = emulator.new_secret("obo-proxy")
    user_claims = {
        **_federated_claims(emulator),
        "aud": emulator.app_id("obo-proxy"),
        "scp": "access_as_user",
        "oid": emulator.user("alice")["id"],
    }
    # What the inspector checks a route against: a v1 token for the API, which passes up to the roles.
    api_claims = {
        **user_claims,
        "iss": f"https://sts.windows.net/{emulator.tenant}/",
        "aud": "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api",
        "ver": "1.0",
        "tid": emulator.tenant,
        "scp": "Notifications.Read",
        "roles": ["notification.read"],
    }
    assert 'class="allowed"' in _inspect(emulator, emulator.mint(api_claims)).text
    for claim in CLAIMS:
        for value in ODD_VALUES:
            federated = emulator.mint({**_federated_claims(emulator), claim: value})
            obo = emulator.mint({**user_claims, claim: value})
            api = emulator.mint({**api_claims, claim: value})
            answers = [_federated_grant(emulator, federated), _obo_grant(emulator, obo, secret)]
            answers += [_inspect(emulator, federated), _inspect(emulator, obo), _inspect(emulator, api)]
            assert [r.status_code < 500 for r in answers] == [True] * 5, (claim, value)
    assert _federated_grant(emulator, emulator.mint(_federated_claims(emulator))).status_code == 200


def test_forged_tokens_are_refused_everywhere(emulator: EmulatorProcess) -> None:
    secret = emulator.new_secret("obo-proxy")
    good_user = emulator.user_token("alice", "api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/access_as_user")
    good_mi = emulator.mint(_federated_claims(emulator))
    for name, forged in {**_forgeries(emulator, good_user), **_forgeries(emulator, good_mi)}.items():
        obo, federated = _obo_grant(emulator, forged, secret), _federated_grant(emulator, forged)
        assert 400 <= obo.status_code < 500, (name, obo.text)
        assert 400 <= federated.status_code < 500, (name, federated.text)
        page = _inspect(emulator, forged)
        assert page.status_code == 200
        assert 'id="verdict" class="refused"' in page.text or not forged, name
    assert _obo_grant(emulator, good_user, secret).status_code == 200


# -- the admin API -----------------------------------------------------------------------------

ADMIN_ROUTES = ("assignments", "grants", "pre-authorizations", "credentials", "mint", "device-codes", "keys/signing")
ADMIN_BODIES = {
    "5,000-digit integer": '{"principal": ' + "1" * 5000 + "}",
    "deep array": "[" * 100_000 + "]" * 100_000,
    "deep object": '{"a":' * 50_000 + "1" + "}" * 50_000,
    "over 64 KiB": json.dumps({"principal": "x" * 70_000}),
    "not JSON": "{nope",
    "a string": '"alice"',
    "fields of the wrong type": '{"principal": 1, "resource": [], "role": {}, "clientAppId": 5, "application": []}',
    "scopes not a list": json.dumps({"clientAppId": AZURE_CLI, "resource": "obo-proxy", "scopes": 5}),
    "scopes of objects": json.dumps({"clientAppId": AZURE_CLI, "resource": "obo-proxy", "scopes": [{"a": 1}]}),
    "claims not an object": '{"claims": [1, 2]}',
    "claims that cannot be signed": '{"claims": {"iss": {"a": 1}}}',
    "device code of the wrong type": '{"userCode": 5, "user": ["alice"]}',
    "lone surrogate": '{"principal": "\\ud800", "resource": "notification-api", "role": "notification.read"}',
}


@pytest.mark.parametrize("name", ADMIN_BODIES)
def test_the_admin_api_refuses_bad_bodies_with_a_400(emulator: EmulatorProcess, name: str) -> None:
    for route in ADMIN_ROUTES:
        response = emulator.session.post(
            f"{emulator.origin}/admin/{route}",
            data=ADMIN_BODIES[name].encode(),
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        assert response.status_code == 400, (route, response.status_code, response.text[:200])
        assert "error" in response.json()


# -- every form field, any text (hypothesis) ---------------------------------------------------

FORM_FIELDS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "username",
    "password",
    "user_code",
    "grant_type",
    "code",
    "code_verifier",
    "device_code",
    "refresh_token",
    "assertion",
    "client_assertion",
    "client_assertion_type",
    "client_secret",
    "requested_token_use",
    "token",
    "permission",
)
# Real values mixed with hostile text, so requests get past the first check as often as they fail it.
REAL = st.sampled_from(
    [AZURE_CLI, LISTENER, "code", "form_post", PROXY, "S256", "plain", "alice", "local-only-alice", "password"]
)
TEXT = st.text(st.characters(codec="utf-8"), max_size=300)  # any scalar but lone surrogates (not UTF-8)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(form=st.dictionaries(st.sampled_from(FORM_FIELDS), REAL | TEXT, max_size=10), route=st.integers(0, 4))
def test_any_form_on_any_sign_in_route_is_not_a_500(emulator: EmulatorProcess, form: dict, route: int) -> None:
    url = [
        f"{emulator.authority}/oauth2/v2.0/authorize",
        f"{emulator.authority}/oauth2/v2.0/token",
        f"{emulator.authority}/oauth2/v2.0/devicecode",
        f"{emulator.origin}/devicelogin",
        f"{emulator.origin}/",
    ][route]
    posted = emulator.session.post(url, data=form, allow_redirects=False, timeout=10)
    assert posted.status_code < 500, (url, form, posted.text[:300])
    if route == 0:
        got = emulator.session.get(url, params=form, allow_redirects=False, timeout=10)
        assert got.status_code < 500, (url, form, got.text[:300])


# -- what a real browser does with the sign-in pages (headless Chromium) ------------------------


class _Listener:
    """A loopback HTTP listener that records what a browser POSTs to it (the app's redirect URI)."""

    def __init__(self) -> None:
        import http.server
        import threading

        received: list[bytes] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(self.rfile.read(int(self.headers.get("content-length") or 0)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"<title>received</title>")

            def log_message(self, *args: object) -> None:
                pass

        self.received = received
        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _browser_sign_in(browser, url: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(url)
    browser.find_element(By.NAME, "username").send_keys("alice")
    browser.find_element(By.NAME, "password").send_keys("local-only-alice")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def test_chromium_posts_the_code_to_the_registered_listener_only(emulator: EmulatorProcess, browser) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    listener = _Listener()
    try:
        ours = f"http://localhost:{listener.port}"
        _browser_sign_in(browser, _authorize(emulator, redirect_uri=ours, response_mode="form_post"))
        WebDriverWait(browser, 20).until(lambda b: b.title == "received")
        assert len(listener.received) == 1
        assert b"code=" in listener.received[0]
        # The classic disagreement: Python reads localhost, Chromium would go to evil.example.
        evil = f"http://evil.example:{listener.port}\\@localhost:{listener.port}/"
        _browser_sign_in(browser, _authorize(emulator, redirect_uri=evil, response_mode="form_post"))
        WebDriverWait(browser, 20).until(lambda b: "AADSTS50011" in b.page_source)
        assert browser.current_url.startswith(emulator.origin)
        assert len(listener.received) == 1
    finally:
        listener.close()


def test_expired_codes_and_their_nonces_are_dropped() -> None:
    """The emulator keeps a code (and the caller's nonce in it) for its ten minutes, not forever."""
    from types import SimpleNamespace

    from emulator.authorize import _purge_expired
    from emulator.state import AuthCode

    def code(expires: float) -> AuthCode:
        return AuthCode(AZURE_CLI, LISTENER, "oid", PROXY, None, "plain", "a nonce", expires)

    state = SimpleNamespace(codes={"old": code(time.time() - 1), "live": code(time.time() + 600)})
    _purge_expired(state)  # type: ignore[arg-type]
    assert list(state.codes) == ["live"]
