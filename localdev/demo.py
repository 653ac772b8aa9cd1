"""``python -m localdev demo``: every pattern, allowed and refused, against the running local stack.

Each scenario makes real calls (apps, emulator, Entra-shaped errors) and reports what was
expected, what happened, and the claim or AADSTS code that decided it. Scenarios that change the
tenant (assign a role, remove a pre-authorization) put it back when they finish.

    python -m localdev demo [--base-url URL] [--state-dir .emulator]

Without flags it uses the stack ``localdev up`` recorded (``localdev/running.py``).
"""

from __future__ import annotations

import json
import os
import random
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from rich.console import Console
from rich.progress import Progress
from rich.text import Text

API_RESOURCE = "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api"
AZURE_CLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
PROXY_SCOPE = "api://7812c330-acf6-4d59-acac-aae48e763f41/obo-proxy/access_as_user"


@dataclass
class Outcome:
    scenario: str
    expected: str
    actual: str
    decided_by: str
    skipped: bool = False  # a tool the scenario needs is not installed (said in decided_by)

    @property
    def passed(self) -> bool:
        return self.skipped or self.actual == self.expected


class Tenant:
    """The running emulator, found through its env file; the admin API is loopback-only."""

    def __init__(self, state_dir: Path, directory: Path) -> None:
        env_file = state_dir / "env"
        if not env_file.exists():
            raise SystemExit(f"error: {env_file} not found: start the stack first (make run)")
        self.env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
        self.directory = json.loads(directory.read_text())
        self.state_dir = state_dir
        self.origin, self.tenant = self.env["AZURE_AUTHORITY_HOST"], self.env["AZURE_TENANT_ID"]
        self.session = requests.Session()
        os.environ.update(self.env)  # what local settings do for the apps: azure-identity reads these

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        # verify per request: an ambient REQUESTS_CA_BUNDLE would beat Session.verify.
        return self.session.request(
            method, f"{self.origin}{path}", verify=self.env["REQUESTS_CA_BUNDLE"], timeout=30, **kwargs
        )

    def admin(self, method: str, path: str, body: dict) -> None:
        self.request(method, f"/admin/{path}", json=body).raise_for_status()

    def user_token(self, user: str, scope: str) -> str:
        login = self.directory["users"][user]
        body = self.request(
            "POST",
            f"/{self.tenant}/oauth2/v2.0/token",
            data={
                "grant_type": "password",
                "client_id": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
                "scope": scope,
                "username": login["userPrincipalName"],
                "password": login["password"],
            },
        ).json()
        return body["access_token"]

    def identity_token(self, identity: str | None, resource: str) -> str:
        from azure.identity import ManagedIdentityCredential

        client_id = self.directory["managedIdentities"][identity]["clientId"] if identity else None
        return ManagedIdentityCredential(client_id=client_id).get_token(f"{resource}/.default").token


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})  # display only: our own tokens


def as_sentence(text: str) -> str:
    """A reason shown on its own: a capital first letter and a full stop (error texts start lower case)."""
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def in_words(values: object) -> str:
    """A claim's list of values as words: "notification.read, notification.create", or "none"."""
    return ", ".join(map(str, values)) if isinstance(values, list) and values else "none"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def problem_reason(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:80]
    if body.get("missing"):
        return "missing " + ", ".join(body["missing"])
    detail = str(body.get("detail", ""))
    code = next((w.strip("().:,") for w in detail.split() if w.strip("().:,").startswith("AADSTS")), "")
    return code or detail[:90]


def problem_code(text: str) -> str:
    """The first AADSTS code in an error text (az's stderr), or its first words."""
    code = next((w.strip("().:,'\"") for w in text.split() if w.strip("().:,'\"").startswith("AADSTS")), "")
    return code or text.strip()[:90]


class Demo:
    def __init__(self, base_url: str, tenant: Tenant) -> None:
        self.base, self.t = base_url.rstrip("/"), tenant
        self.http = requests.Session()

    def call(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        return self.http.request(
            method, f"{self.base}{path}", headers=bearer(token) if token else {}, timeout=60, **kwargs
        )

    def note(self, recipient: str | None = None) -> dict:
        """A notification for recipient (an object id; default: alice's in the home tenant)."""
        to = recipient or self.t.directory["users"]["alice"]["id"]
        return {"recipient": to, "title": "from the demo", "body": "hello"}

    # -- service to service --------------------------------------------------------------------

    def s2s_allowed(self) -> Outcome:
        response = self.call("GET", "/caller/notifications")
        roles = claims(self.t.identity_token(None, API_RESOURCE)).get("roles")
        return Outcome(
            "S2S: caller-app (system identity) lists", "200", str(response.status_code), f"roles {in_words(roles)}"
        )

    def s2s_missing_role(self) -> Outcome:
        response = self.call("POST", "/caller/notifications", json=self.note())
        return Outcome(
            "S2S: caller-app creates without the role", "403", str(response.status_code), problem_reason(response)
        )

    def user_assigned(self) -> Outcome:
        token = self.t.identity_token("build-agents", API_RESOURCE)
        response = self.call("POST", "/notifications", token, json=self.note())
        return Outcome(
            "S2S: user-assigned build-agents creates",
            "201",
            str(response.status_code),
            f"roles {in_words(claims(token).get('roles'))}",
        )

    def audience_forms(self) -> Outcome:
        app_id = self.t.directory["applications"]["notification-api"]["appId"]
        answers = {}
        for resource in (API_RESOURCE, app_id):
            token = self.t.identity_token(None, resource)
            answers[claims(token)["aud"]] = self.call("GET", "/notifications", token).status_code
        actual = "both 200" if set(answers.values()) == {200} and len(answers) == 2 else str(answers)
        return Outcome(
            "Audience: App ID URI and app id GUID", "both 200", actual, "aud " + " and ".join(sorted(answers))
        )

    def key_vault(self) -> Outcome:
        response = self.call("GET", "/caller/secret")
        version = response.json().get("version", "")[:8] if response.ok else problem_reason(response)
        return Outcome(
            "Key Vault: caller-app reads the secret",
            "200",
            str(response.status_code),
            f"secretsUsers RBAC; version {version}",
        )

    def cache_trap(self) -> list[Outcome]:
        """Assign a role, see the cached token lack it, then ask with another letter case."""
        before = claims(self.t.identity_token(None, API_RESOURCE))  # cached by the endpoint, per string
        grant = {"principal": "caller-app", "resource": "notification-api", "role": "notification.create"}
        self.t.admin("POST", "assignments", grant)
        try:
            after = claims(self.t.identity_token(None, API_RESOURCE))
            trapped = "notification.create" not in after.get("roles", [])
            scheme, _, path = API_RESOURCE.partition("://")
            variant = f"{scheme}://" + "".join(
                c.upper() if c.isalpha() and random.random() < 0.5 else c  # noqa: S311
                for c in path
            )
            fresh_token = self.t.identity_token(None, variant)
            created = self.call("POST", "/notifications", fresh_token, json=self.note())
        finally:
            self.t.admin("DELETE", "assignments", grant)
        return [
            Outcome(
                "Cache trap: role assigned, cached token",
                "role missing",
                "role missing" if trapped else "role present",
                f"{'the same cached token' if after.get('uti') == before.get('uti') else 'a new token'}, "
                f"roles {in_words(after.get('roles'))}",
            ),
            Outcome(
                "Cache trap workaround: other letter case",
                "201",
                str(created.status_code),
                f"asked for {variant}: a new token, roles {in_words(claims(fresh_token).get('roles'))}, "
                f"aud still {claims(fresh_token)['aud']}",
            ),
        ]

    # -- on behalf of --------------------------------------------------------------------------

    def obo_allowed(self) -> Outcome:
        response = self.call("GET", "/obo/notifications", self.t.user_token("alice", PROXY_SCOPE))
        return Outcome(
            "OBO: alice reads her notifications",
            "200",
            str(response.status_code),
            "scope Notifications.Read (the proxy's exchange) + alice's role notification.read",
        )

    def obo_not_assigned(self) -> Outcome:
        response = self.call("GET", "/obo/notifications", self.t.user_token("bob", PROXY_SCOPE))
        return Outcome(
            "OBO: bob is not assigned to the API", "403", str(response.status_code), problem_reason(response)
        )

    def obo_group(self) -> Outcome:
        token = self.t.user_token("carol", PROXY_SCOPE)
        response = self.call("POST", "/obo/notifications", token, json=self.note())
        return Outcome(
            "OBO: carol creates (role via her group)",
            "201",
            str(response.status_code),
            "group notification-admins → notification.create",
        )

    def consent(self) -> list[Outcome]:
        proxy = self.t.directory["applications"]["obo-proxy"]["appId"]
        entry = next(
            p
            for p in self.t.directory["applications"]["notification-api"]["preAuthorizedApplications"]
            if p["appId"] == proxy
        )
        target = {"clientAppId": proxy, "resource": "notification-api"}
        self.t.admin("DELETE", "pre-authorizations", target)
        try:
            blocked = self.call("GET", "/obo/notifications", self.t.user_token("alice", PROXY_SCOPE))
        finally:
            self.t.admin("POST", "pre-authorizations", {**target, "scopes": entry["scopes"]})
        fixed = self.call("GET", "/obo/notifications", self.t.user_token("alice", PROXY_SCOPE))
        return [
            Outcome("Consent: proxy not pre-authorized", "403", str(blocked.status_code), problem_reason(blocked)),
            Outcome("Consent: fixed by pre-authorization", "200", str(fixed.status_code), "preAuthorizedApplications"),
        ]

    # -- developers: the real Azure CLI -----------------------------------------------------------

    def developer(self) -> list[Outcome]:
        """alice and carol sign in with the real Azure CLI and call the API with their own tokens (what
        ``AZURE_TOKEN_CREDENTIALS=dev`` does in the apps); then the tenant stops pre-authorizing the
        Azure CLI on the API (AADSTS65001) and starts again. az's config is the demo's own."""
        from .azure_cli import AzureCli, AzureCliError

        try:
            cli = AzureCli(self.t.state_dir, self.t.state_dir / "demo-azure-cli")
        except AzureCliError as exc:
            return [
                Outcome("Developer: Azure CLI scenarios", "5 outcomes", "skipped", as_sentence(str(exc)), skipped=True)
            ]

        def api_token() -> str:
            result = cli.access_token(API_RESOURCE)
            if result.returncode != 0:
                raise AzureCliError(problem_code(result.stderr))
            return result.stdout.strip()

        cli.sign_in("alice")
        alice = api_token()
        listed = self.call("GET", "/notifications", alice)
        refused = self.call("POST", "/notifications", alice, json=self.note())
        cli.sign_in("carol")
        created = self.call("POST", "/notifications", api_token(), json=self.note())
        api = self.t.directory["applications"]["notification-api"]
        entry = next(p for p in api["preAuthorizedApplications"] if p["appId"] == AZURE_CLI)
        target = {"clientAppId": AZURE_CLI, "resource": "notification-api"}
        cli.sign_in("carol")  # a fresh sign-in: az keeps no token for the API
        self.t.admin("DELETE", "pre-authorizations", target)
        try:
            blocked = cli.access_token(API_RESOURCE)
        finally:
            self.t.admin("POST", "pre-authorizations", {**target, "scopes": entry["scopes"]})
        fixed = self.call("GET", "/notifications", api_token())
        return [
            Outcome(
                "Developer: alice (Azure CLI) lists",
                "200",
                str(listed.status_code),
                f"a token of the Azure CLI (appid), roles {in_words(claims(alice).get('roles'))}",
            ),
            Outcome("Developer: alice creates", "403", str(refused.status_code), problem_reason(refused)),
            Outcome(
                "Developer: carol creates (role via group)", "201", str(created.status_code), "notification-admins"
            ),
            Outcome(
                "Az consent: Azure CLI not pre-authorized",
                "AADSTS65001",
                problem_code(blocked.stderr) if blocked.returncode else "token issued",
                "az account get-access-token refused",
            ),
            Outcome("Az consent: pre-authorized again", "200", str(fixed.status_code), "preAuthorizedApplications"),
        ]

    # -- tokens --------------------------------------------------------------------------------

    def forged(self) -> Outcome:
        real = self.t.identity_token("build-agents", API_RESOURCE)
        forged = jwt.encode(
            claims(real),
            rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "RS256",
            headers={"kid": jwt.get_unverified_header(real)["kid"]},
        )
        response = self.call("GET", "/notifications", forged)
        return Outcome(
            "Forged token (right kid, wrong key)",
            "401",
            str(response.status_code),
            (response.json().get("detail") if response.content else "") or "",
        )

    def versions(self) -> Outcome:
        v1 = self.t.identity_token(None, API_RESOURCE)
        v2 = self.t.user_token("alice", PROXY_SCOPE)
        statuses = (
            self.call("GET", "/notifications", v1).status_code,
            self.call("GET", "/obo/notifications", v2).status_code,
        )
        return Outcome(
            "v1 token (API) and v2 token (proxy)",
            "both 200",
            "both 200" if statuses == (200, 200) else str(statuses),
            "; ".join(f"ver {c['ver']}, iss {c['iss'].replace(c['tid'], '{tid}')}" for c in (claims(v1), claims(v2))),
        )

    def scenarios(self) -> list[Callable[[], Outcome | list[Outcome]]]:
        from . import demo_portal, demo_tenants  # their rows use this module's Outcome: imported here, not at the top

        return [
            self.s2s_allowed,
            self.s2s_missing_role,
            self.user_assigned,
            self.audience_forms,
            self.key_vault,
            self.cache_trap,
            self.obo_allowed,
            self.obo_not_assigned,
            self.obo_group,
            self.consent,
            self.developer,
            self.forged,
            self.versions,
            *demo_portal.scenarios(self),
            *demo_tenants.scenarios(self),
            *self.key_rolls(),
        ]

    def key_rolls(self) -> list[Callable[[], Outcome | list[Outcome]]]:
        """Last: they roll the emulator's signing keys (demo_keys.py), which the rows above do not expect."""
        from .demo_keys import scenarios

        return list(scenarios(self))


def answers(base_url: str) -> bool:
    """Whether anything HTTP listens at ``base_url`` (any status: a host serving only some apps counts)."""
    try:
        requests.get(f"{base_url.rstrip('/')}/health", timeout=5)
    except requests.RequestException:
        return False
    return True


WIDTH = 80  # the table reads in an 80-column terminal; wider terminals change nothing
VERDICT_STYLE = {"PASS": "green", "FAIL": "bold red", "SKIP": "yellow"}


def verdict(outcome: Outcome) -> str:
    if outcome.skipped:
        return "SKIP"
    return "PASS" if outcome.passed else "FAIL"


def result_of(outcome: Outcome) -> str:
    """What happened, in a few characters: the expected answer when it came, else both."""
    if outcome.skipped:
        return "skipped"
    return outcome.actual if outcome.passed else f"expected {outcome.expected}, got {outcome.actual}"


def layout(outcomes: list[Outcome], width: int = WIDTH) -> list[str]:
    """Two lines or more per scenario, never wider than ``width``, words never cut:

        PASS  S2S: caller-app creates without the role                      403
              missing app role notification.create

    The first line: verdict, scenario, what happened (right-aligned); below it, indented, what
    decided it (a claim, an AADSTS code), or why it was skipped, whole.
    """
    lines: list[str] = []
    indent = " " * 6
    for outcome in outcomes:
        head, result = f"{verdict(outcome)}  ", result_of(outcome)
        room = width - len(head) - len(result) - 2
        title = textwrap.wrap(outcome.scenario, max(room, 20)) or [""]
        if len(title) == 1 and len(title[0]) <= room:
            lines.append(f"{head}{title[0]}{' ' * (width - len(head) - len(title[0]) - len(result))}{result}")
        else:  # a long title or result: each on lines of its own
            lines += [head + title[0], *(indent + line for line in title[1:])]
            lines += [indent + line for line in textwrap.wrap(result, width - len(indent))]
        detail = textwrap.wrap(outcome.decided_by, width - len(indent), break_long_words=False, break_on_hyphens=False)
        lines += [indent + line for line in detail]
    return lines


def run(base_url: str, state_dir: Path, directory: Path, console: Console | None = None) -> int:
    console = console or Console()
    demo = Demo(base_url, Tenant(state_dir, directory))
    outcomes: list[Outcome] = []
    with Progress(console=console, transient=True) as progress:
        scenarios = demo.scenarios()
        task = progress.add_task("scenarios", total=len(scenarios))
        for scenario in scenarios:
            progress.update(task, description=scenario.__name__.replace("_", " "))
            try:
                result = scenario()
            except Exception as exc:
                result = Outcome(scenario.__name__.replace("_", " "), "runs", "error", f"{type(exc).__name__}: {exc}")
            outcomes += result if isinstance(result, list) else [result]
            progress.advance(task)
    console.print(f"Auth patterns against {base_url}\n", highlight=False)
    for line in layout(outcomes):
        styled = Text(line)
        if line[:4] in VERDICT_STYLE:
            styled.stylize(VERDICT_STYLE[line[:4]], 0, 4)
        console.print(styled, highlight=False, overflow="ignore", crop=False)
    console.print()
    failed = [o for o in outcomes if not o.passed]
    skipped = [o for o in outcomes if o.skipped]
    summary = f"{len(outcomes) - len(failed) - len(skipped)} passed, {len(failed)} failed"
    console.print(summary + (f", {len(skipped)} skipped" if skipped else ""))
    return 1 if failed else 0
