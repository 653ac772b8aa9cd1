"""``az functionapp`` (the real Azure CLI) against the emulator's Resource Manager: each user's Azure RBAC
decides. The three users sign in once for the whole module, side by side (a sign-in is six az calls)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.azure_cli.conftest import LocalAz
from tests.emulator_process import EmulatorProcess

ALL = ["func-notify-api-prod", "func-notify-api-staging", "func-notify-proxy-prod", "func-notify-proxy-staging"]


@pytest.fixture(scope="module")
def signed_in(az_emulator: EmulatorProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, LocalAz]]:
    az_emulator.reset()
    root = tmp_path_factory.mktemp("functionapp")
    sessions = {user: LocalAz(az_emulator, root / user) for user in ("alice", "carol", "bob")}
    with ThreadPoolExecutor(max_workers=len(sessions)) as pool:
        list(pool.map(lambda user: sessions[user].login(user), sessions))
    yield sessions
    az_emulator.reset()


def restart(local_az: LocalAz, group: str, name: str) -> subprocess.CompletedProcess:
    return local_az("functionapp", "restart", "--resource-group", group, "--name", name, check=False)


def test_alice_lists_all_restarts_staging_and_is_refused_on_prod(signed_in: dict[str, LocalAz]) -> None:
    alice = signed_in["alice"]
    listed = alice("functionapp", "list", "--query", "[].name", "-o", "tsv")
    assert sorted(listed.stdout.split()) == ALL
    staging = restart(alice, "rg-notify-staging", "func-notify-api-staging")
    assert staging.returncode == 0, staging.stderr
    prod = restart(alice, "rg-notify-prod", "func-notify-api-prod")
    assert prod.returncode != 0
    assert "(AuthorizationFailed)" in prod.stderr
    assert "Microsoft.Web/sites/restart/action" in prod.stderr


def test_carol_restarts_prod(signed_in: dict[str, LocalAz]) -> None:
    restarted = restart(signed_in["carol"], "rg-notify-prod", "func-notify-api-prod")
    assert restarted.returncode == 0, restarted.stderr


def test_bob_sees_no_subscription_and_no_function_app(signed_in: dict[str, LocalAz]) -> None:
    bob = signed_in["bob"]  # signed in with --allow-no-subscriptions: a tenant-level account
    listed = bob("functionapp", "list", "-o", "tsv", check=False)
    assert listed.returncode != 0
    assert listed.stdout.strip() == ""
    assert "SubscriptionNotFound" in listed.stderr
