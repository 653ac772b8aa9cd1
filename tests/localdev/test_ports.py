"""`make run` decides whether a port is free the way its servers bind: a port left in TIME_WAIT by a
stack just stopped is free; a port something listens on is busy, and the error says how to move."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest

from localdev.stack import StackError, claim_ports, port_is_free


def listener() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def left_in_time_wait() -> int:
    """A port as a stopped server leaves it: nothing listens, but the connection it closed first
    waits in TIME_WAIT on that port (about 60 s on Linux)."""
    server = listener()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first: its end goes to TIME_WAIT
    client.recv(1)
    client.close()
    server.close()
    return port


@pytest.fixture
def busy() -> Iterator[int]:
    sock = listener()
    yield sock.getsockname()[1]
    sock.close()


def test_a_port_in_time_wait_is_free_as_the_servers_see_it() -> None:
    """Regression: after Ctrl-C, `make run` refused for about 70 s ("port 7071 is already in use") while
    nothing listened: the probe bound without SO_REUSEADDR, which uvicorn, the emulator and Azurite set."""
    port = left_in_time_wait()
    with socket.socket() as plain, pytest.raises(OSError):  # the trap is real: a plain bind fails
        plain.bind(("127.0.0.1", port))
    assert port_is_free(port)
    assert claim_ports(port, 0, 0)[0] == port


def test_a_listening_port_is_busy_and_the_error_says_how_to_move(busy: int) -> None:
    with pytest.raises(StackError) as refused:
        claim_ports(busy, 0, 0)
    message = str(refused.value)
    assert f"port {busy} (functions host) is already in use" in message
    fix = re.search(r"make run PORT=(\d+) EMULATOR_PORT=0 STORAGE_PORT=0", message)
    assert fix, message
    assert int(fix.group(1)) != busy
    assert port_is_free(int(fix.group(1)))


def test_every_busy_port_is_named_at_once(busy: int) -> None:
    other = listener()
    try:
        storage = other.getsockname()[1] - 1  # its queue port is the busy one
        with pytest.raises(StackError) as refused:
            claim_ports(0, busy, storage)
    finally:
        other.close()
    message = str(refused.value)
    assert f"{busy} (emulator)" in message
    assert f"{storage + 1} (Azurite queue)" in message
    fix = re.search(r"make run PORT=0 EMULATOR_PORT=(\d+) STORAGE_PORT=(\d+)", message)
    assert fix, message
    assert fix.group(1) != str(busy)
    assert int(fix.group(2)) > storage
