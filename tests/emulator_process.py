"""Start the emulator as a real process (``python -m emulator --port 0``) and talk to it.

Shared by every test package that needs Entra ID locally. Each instance has its own state
directory; ``share_tls_with`` copies another instance's CA so one CA bundle trusts both.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.processes import ROOT, ReadyProcess

DIRECTORY = ROOT / "directory.json"
AZURE_CLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
READY = "emulator ready on "
TLS_FILES = ("ca.pem", "ca-key.pem", "server.pem", "server-key.pem")


class BundleSession(requests.Session):
    """A session that trusts the emulator's CA even when REQUESTS_CA_BUNDLE says otherwise.

    ``requests`` lets the environment variable beat ``Session.verify``; only a per-request
    ``verify`` wins, so it is set on every request.
    """

    def __init__(self, bundle: str) -> None:
        super().__init__()
        self.bundle = bundle

    def request(self, method, url, **kwargs):
        kwargs.setdefault("verify", self.bundle)
        return super().request(method, url, **kwargs)


class EmulatorClient:
    """A running emulator, found through its state directory's ``env`` file."""

    def __init__(self, state_dir: Path, directory: Path = DIRECTORY) -> None:
        self.state_dir = state_dir
        self.directory_path = directory
        self.directory = json.loads(directory.read_text())
        self.env = dict(x.split("=", 1) for x in (state_dir / "env").read_text().splitlines())
        self.origin = self.env["AZURE_AUTHORITY_HOST"]
        self.port = int(self.origin.rsplit(":", 1)[1])
        self.tenant = self.env["AZURE_TENANT_ID"]
        self.bundle = self.env["REQUESTS_CA_BUNDLE"]
        self.session = BundleSession(self.bundle)

    def activate(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point azure-identity, MSAL, PyJWT and requests at this emulator (what local settings do)."""
        for name, value in self.env.items():
            monkeypatch.setenv(name, value)

    # -- directory ------------------------------------------------------------------------------

    def app_id(self, name: str) -> str:
        return self.directory["applications"][name]["appId"]

    def _tenants(self) -> dict[str, dict]:
        """Every tenant of directory.json by name, the home tenant (the top level) first."""
        home = {**self.directory, **self.directory["tenant"]}
        return {self.directory["tenant"].get("name", "home"): home, **self.directory.get("tenants", {})}

    def tenant_id(self, name: str) -> str:
        """A tenant's id by its name in directory.json (contoso, fabrikam, northwind, tailspin)."""
        return str(self._tenants()[name]["id"])

    def _find(self, section: str, name: str) -> dict:
        for tenant in self._tenants().values():
            if name in tenant.get(section, {}):
                return dict(tenant[section][name])
        raise KeyError(f"no {section} entry {name!r} in any tenant of directory.json")

    def identity(self, name: str) -> dict:
        """A managed identity of any tenant (names are unique across the file)."""
        return self._find("managedIdentities", name)

    def user(self, name: str) -> dict:
        """A user of any tenant (names are unique across the file)."""
        return self._find("users", name)

    @property
    def authority(self) -> str:
        return f"{self.origin}/{self.tenant}"

    @property
    def token_endpoint(self) -> str:
        return f"{self.authority}/oauth2/v2.0/token"

    # -- admin API ------------------------------------------------------------------------------

    def admin(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """The admin API's answer: a JSON object for every route the tests call."""
        response = self.session.request(method, f"{self.origin}/admin/{path}", timeout=10, **kwargs)
        response.raise_for_status()
        answer = response.json()
        if not isinstance(answer, dict):
            raise TypeError(f"/admin/{path} answered {type(answer).__name__}, not an object")
        return answer

    def reset(self) -> None:
        self.admin("POST", "reset", json={})

    def stats(self) -> dict[str, Any]:
        return self.admin("GET", "stats")

    def new_secret(self, application: str) -> str:
        return self.admin("POST", "credentials", json={"application": application})["secretText"]

    def mint(self, claims: dict) -> str:
        return self.admin("POST", "mint", json={"claims": claims})["token"]

    def token_request(self, tenant: str | None = None, **form: str) -> requests.Response:
        """POST the form to a tenant's v2 token endpoint: a tenant name of directory.json, an id, a
        domain or ``organizations``/``common`` (default: the home tenant)."""
        if tenant is None:
            endpoint = self.token_endpoint
        else:
            segment = self.tenant_id(tenant) if tenant in self._tenants() else tenant
            endpoint = f"{self.origin}/{segment}/oauth2/v2.0/token"
        return self.session.post(endpoint, data=form, timeout=10)

    def user_token(self, user: str, scope: str, tenant: str | None = None) -> str:
        """A user's token through the Azure CLI client (password grant; local users only), from
        ``tenant`` (default: the home tenant; the user must be a member, else AADSTS50020)."""
        response = self.token_request(
            tenant,
            grant_type="password",
            client_id=AZURE_CLI,
            scope=scope,
            username=self.user(user)["userPrincipalName"],
            password=self.user(user)["password"],
        )
        assert response.status_code == 200, response.text
        return response.json()["access_token"]


class EmulatorProcess(EmulatorClient):
    """Starts ``python -m emulator --port 0`` in ``state_dir`` and waits for its ready line."""

    def __init__(
        self, state_dir: Path, directory: Path = DIRECTORY, *args: str, share_tls_with: EmulatorProcess | None = None
    ) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        if share_tls_with:
            for name in TLS_FILES:
                shutil.copy2(share_tls_with.state_dir / name, state_dir / name)
        self.process = ReadyProcess(
            [
                sys.executable,
                "-m",
                "emulator",
                "--state-dir",
                str(state_dir),
                "--directory",
                str(directory),
                "serve",
                "--port",
                "0",
                *args,
            ],
            READY,
            state_dir / "emulator.log",
        )
        super().__init__(state_dir, directory)

    def log_text(self) -> str:
        return self.process.log_text()

    def stop(self) -> None:
        self.process.stop()


def variant_directory(tmp: Path, change) -> Path:
    """A copy of directory.json changed by ``change(data)``, for behaviours the seeded cast does not show."""
    data = json.loads(DIRECTORY.read_text())
    change(data)
    path = tmp / "directory.json"
    path.write_text(json.dumps(data))
    return path


def clear_machine_ca_settings() -> None:
    """This machine points REQUESTS_CA_BUNDLE/SSL_CERT_FILE at the system bundle; tests set their own."""
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
        os.environ.pop(name, None)
