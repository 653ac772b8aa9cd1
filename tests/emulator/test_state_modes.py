"""The emulator's state folder and its secret files are the owner's alone, also when an older run or a
copy left them readable (the identity header lets any reader get tokens)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from emulator.server import identity_header
from emulator.state import ClientSecrets
from localdev.stack import private_folder


@pytest.fixture(autouse=True)
def fresh() -> None:
    """No emulator process here: override the package's reset-the-emulator fixture."""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_an_existing_identity_header_is_made_private_and_kept(tmp_path: Path) -> None:
    (tmp_path / "identity-header").write_text("kept-across-restarts\n")
    (tmp_path / "identity-header").chmod(0o644)
    assert identity_header(tmp_path) == "kept-across-restarts"
    assert mode(tmp_path / "identity-header") == 0o600


def test_client_secret_digests_are_private_even_in_an_old_file(tmp_path: Path) -> None:
    path = tmp_path / "client-secrets.json"
    path.write_text("{}")
    path.chmod(0o644)
    ClientSecrets(path).create("96556ed1-0179-40bd-8f75-9ae2ea11a01b")
    assert mode(path) == 0o600


def test_a_private_folder_closes_what_is_already_in_it(tmp_path: Path) -> None:
    folder = tmp_path / ".azurite"
    (folder / "__blobstorage__").mkdir(parents=True)
    (folder / "__blobstorage__" / "body").write_text("a notification's body")
    (folder / "__azurite_db_table__.json").write_text("{}")
    for path in (folder, folder / "__blobstorage__"):
        path.chmod(0o755)
    for path in (folder / "__blobstorage__" / "body", folder / "__azurite_db_table__.json"):
        path.chmod(0o644)
    private_folder(folder)
    assert mode(folder) == mode(folder / "__blobstorage__") == 0o700
    assert mode(folder / "__blobstorage__" / "body") == mode(folder / "__azurite_db_table__.json") == 0o600


def test_the_running_emulators_state_folder_is_private(emulator) -> None:
    assert mode(emulator.state_dir) == 0o700


@pytest.mark.parametrize(("host", "warned"), [("0.0.0.0", True), ("192.0.2.1", True), ("127.0.0.1", False)])
def test_listening_beyond_loopback_is_warned_loudly(tmp_path: Path, capsys, host: str, warned: bool) -> None:
    from emulator.__main__ import main

    # --system-identity names nobody: serve stops right after loading, before it would bind.
    argv = ["--state-dir", str(tmp_path / "state"), "serve", "--host", host, "--system-identity", "nobody"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert ("WARNING: the emulator listens on" in err) is warned
    if warned:
        assert host in err
