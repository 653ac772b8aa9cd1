"""``az login --identity`` inside the local stack's environment (the Kudu/SSH-console way to look at
a managed identity's token), against the emulator's managed identity endpoint.

Every az call here carries ``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER`` (``localdev.azure_cli``
sets them on each one): without them an az signed in with ``--identity`` asks the VM metadata
address 169.254.169.254. The proxies point at a recorder on loopback that refuses everything, so
an attempt to leave the machine is seen and stopped here, never sent.
"""

from __future__ import annotations

import json
import socketserver
import subprocess
import threading
from collections.abc import Iterator

import jwt
import pytest

from localdev.azure_cli import AzureCli, az_environment
from tests.azure_cli.conftest import LocalAz

API = "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api"


class Recorder(socketserver.ThreadingTCPServer):
    """A "proxy" that writes down the first line of each request and closes the connection."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.seen: list[str] = []
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                outer.seen.append(self.rfile.readline(4096).decode(errors="replace").strip())

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def az_run(local_az: LocalAz, recorder: Recorder, az: str, *args: str) -> subprocess.CompletedProcess:
    env = az_environment(local_az.emulator.env, local_az.config_dir)
    proxy = f"http://127.0.0.1:{recorder.server_address[1]}"
    env.update(HTTPS_PROXY=proxy, HTTP_PROXY=proxy)
    return subprocess.run([az, *args], env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def api_claims(local_az: LocalAz, recorder: Recorder, az: str) -> dict:
    result = az_run(local_az, recorder, az, "account", "get-access-token", "--resource", API, "-o", "json")
    assert result.returncode == 0, result.stderr
    return jwt.decode(json.loads(result.stdout)["accessToken"], options={"verify_signature": False})


def test_system_assigned_identity(local_az: LocalAz, recorder: Recorder, az: str) -> None:
    emulator = local_az.emulator
    AzureCli(emulator.state_dir, local_az.config_dir).register_cloud()
    login = az_run(local_az, recorder, az, "login", "--identity", "--allow-no-subscriptions", "-o", "json")
    assert login.returncode == 0, login.stderr
    assert json.loads(login.stdout)[0]["user"] == {
        "assignedIdentityInfo": "MSI",
        "name": "systemAssignedIdentity",
        "type": "servicePrincipal",
    }
    token = api_claims(local_az, recorder, az)
    caller = emulator.identity("caller-app")
    assert token["oid"] == caller["principalId"]
    assert token["appid"] == caller["clientId"]
    assert token["roles"] == ["notification.read"]
    assert "idtyp" not in token  # your API gets it only by configuring the optional claim
    assert recorder.seen == []  # nothing tried to leave loopback


def test_user_assigned_identity(local_az: LocalAz, recorder: Recorder, az: str) -> None:
    emulator = local_az.emulator
    AzureCli(emulator.state_dir, local_az.config_dir).register_cloud()
    agents = emulator.identity("build-agents")
    login = az_run(
        local_az,
        recorder,
        az,
        "login",
        "--identity",
        "--allow-no-subscriptions",
        "--client-id",
        agents["clientId"],
        "-o",
        "none",
    )
    assert login.returncode == 0, login.stderr
    token = api_claims(local_az, recorder, az)
    assert token["oid"] == agents["principalId"]
    assert token["roles"] == ["notification.create"]
    assert recorder.seen == []


def test_any_localdev_az_command_works_on_a_fresh_config(local_az: LocalAz) -> None:
    """Regression: `python -m localdev az -- login --identity` as the first command of a fresh clone
    failed with "Unable to connect to proxy": only `localdev az login` registered the local cloud, so
    az used AzureCloud, which the proxy guard stops."""
    assert not (local_az.config_dir / "clouds.config").exists()
    local_az("login", "--identity", "--allow-no-subscriptions", "-o", "none")
    assert local_az("cloud", "show", "--query", "name", "-o", "tsv").stdout.strip() == "LocalEmulator"
    assert local_az.token(API).stdout.strip()
