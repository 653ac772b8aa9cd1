"""The guard conftest.py puts around every unit test here: loopback only."""

from __future__ import annotations

import socket

import pytest

from tests.auth.no_network import LeftTheMachine, loopback_only


@pytest.mark.parametrize("address", [("203.0.113.7", 443), ("2001:db8::7", 443, 0, 0), ("login.example", 443)])
def test_anything_beyond_loopback_is_refused(address: tuple[object, ...]) -> None:
    with pytest.raises(LeftTheMachine):
        loopback_only(address)  # checked, never contacted (TEST-NET and documentation addresses)


@pytest.mark.parametrize("address", [("127.0.0.1", 1), ("::1", 1, 0, 0), ("localhost", 1), "/tmp/a.sock"])
def test_loopback_and_unix_sockets_are_allowed(address: tuple[object, ...] | str) -> None:
    loopback_only(address)


def test_the_guard_is_in_place_for_these_tests() -> None:
    # Not a real socket: without the guard, the real connect would refuse this object (TypeError)
    # before any packet could leave; with it, the address is refused first.
    with pytest.raises(LeftTheMachine):
        socket.socket.connect(object(), ("203.0.113.7", 443))  # type: ignore[arg-type]
