"""Unit tests stay on this machine (as fastapi-azure-auth's do): every socket connect beyond loopback
is refused before a packet leaves. The stub tenant listens on 127.0.0.1, so nothing else is needed."""

from __future__ import annotations

import ipaddress

Address = tuple[object, ...] | str | bytes


class LeftTheMachine(OSError):
    """A unit test tried to connect beyond loopback."""


def loopback_only(address: Address) -> None:
    if not isinstance(address, tuple):
        return  # a Unix socket path: local by definition
    host = str(address[0])
    try:
        local = ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = host == "localhost"
    if not local:
        raise LeftTheMachine(f"unit tests stay on loopback; refused a connection to {host}")
