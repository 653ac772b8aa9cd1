"""``python -m localdev up --developer NAME``: the function apps run as a developer, through the real
Azure CLI (``AZURE_TOKEN_CREDENTIALS=dev`` → DefaultAzureCredential's developer chain → az).

One stack, started as alice; ``localdev az login --user`` switches the developer, since the apps
ask az for every token. What the article promises: alice may list but not create (403 naming her
and the role), carol creates through her group, bob gets AADSTS50105 and the caller says what an
admin must do, and a role assigned reaches alice at her next token.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from localdev import azure_cli
from localdev.stack import Stack as LocalStack
from tests.azure_cli.conftest import LocalAz
from tests.e2e.stack import Stack, start_stack
from tests.processes import ROOT


@pytest.fixture(scope="module")
def developer_stack(az: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, LocalAz]]:
    tmp = tmp_path_factory.mktemp("developer")
    stack = start_stack(tmp, "--developer", "alice", "--az-config-dir", str(tmp / "azure-cli"))
    assert "the apps run as alice" in "".join(stack.process.output)
    yield stack, LocalAz(stack.emulator, tmp / "azure-cli")
    stack.process.stop()


def create(stack: Stack) -> requests.Response:
    return requests.post(
        f"{stack.base_url}/caller/notifications",
        json={"recipient": stack.emulator.user("alice")["id"], "title": "as a developer", "body": "hello"},
        timeout=60,
    )


def emulator_cli(stack: Stack, *args: str) -> None:
    command = [sys.executable, "-m", "emulator", "--state-dir", str(stack.emulator.state_dir), *args]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=60)


def test_alice_lists_and_is_refused_create(developer_stack: tuple[Stack, LocalAz]) -> None:
    stack, _ = developer_stack
    listed = requests.get(f"{stack.base_url}/caller/notifications", timeout=60)
    assert listed.status_code == 200, listed.text
    refused = create(stack)
    assert refused.status_code == 403, refused.text
    problem = refused.json()
    alice = stack.emulator.user("alice")["userPrincipalName"]
    assert alice in problem["detail"]
    assert problem["identity"]["user"] == alice
    assert "user role notification.create" in problem["missing"]
    assert any("python -m emulator assign" in fix and alice in fix for fix in problem["fix"])


def test_carol_creates_through_her_group(developer_stack: tuple[Stack, LocalAz]) -> None:
    stack, local_az = developer_stack
    local_az.login("carol")
    try:
        created = create(stack)
        assert created.status_code == 201, created.text
    finally:
        local_az.login("alice")


def test_bob_gets_aadsts50105_and_the_fix(developer_stack: tuple[Stack, LocalAz]) -> None:
    stack, local_az = developer_stack
    local_az.login("bob")
    try:
        refused = requests.get(f"{stack.base_url}/caller/notifications", timeout=60)
        assert refused.status_code == 403, refused.text
        problem = refused.json()
        assert "AADSTS50105" in problem["detail"]
        assert any("assigns the user, or a group the user is in, an app role" in fix for fix in problem["fix"])
    finally:
        local_az.login("alice")


def test_a_role_assigned_reaches_alice_at_her_next_token(developer_stack: tuple[Stack, LocalAz]) -> None:
    stack, local_az = developer_stack
    emulator_cli(stack, "assign", "--principal", "alice", "--resource", "notification-api", "--role",
                 "notification.create")  # fmt: skip
    try:
        local_az.login("alice")  # a fresh sign-in: az drops the token it kept (up to 1 h)
        created = create(stack)
        assert created.status_code == 201, created.text
    finally:
        emulator_cli(stack, "unassign", "--principal", "alice", "--resource", "notification-api", "--role",
                     "notification.create")  # fmt: skip
        local_az.login("alice")


def test_developer_mode_without_az_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(azure_cli, "PROJECT_AZ", tmp_path / "no-az")
    with pytest.raises(azure_cli.AzureCliError, match="make az"):
        LocalStack(port=0, emulator_port=0, storage_port=0, apps="", use_func=False, state_dir=tmp_path,
                   azurite_dir=tmp_path, developer="alice")  # fmt: skip
