"""Does a URL point at this machine? The production guard asks it of every setting that names a host.

A host has many spellings of loopback: ``localhost.``, ``127.1``, ``2130706433``, ``0x7f.1``,
``[::ffff:127.0.0.1]``, ``0.0.0.0`` (which connects to this host), and any name that resolves to
one of those. String comparisons miss most of them, so addresses are parsed (``ipaddress``, and
``inet_aton`` for the legacy IPv4 forms the resolver accepts) and names are resolved.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import idna


def _local(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])  # an IPv6 zone id is not part of the address
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))  # 127.1, 2130706433, 0x7f.0.0.1, 0177.0.0.1
    except OSError:
        return None


def is_loopback(url: str) -> bool:
    """True when ``url``'s host is this machine by any spelling. An unparseable URL counts as
    loopback: a guard that cannot read a setting must not wave it through."""
    try:
        host = (urlsplit(url.strip()).hostname or "").rstrip(".")
    except ValueError:
        return True
    if not host:
        return False
    if ":" not in host:  # a name or an IPv4 address, not an IPv6 literal (whose zone id may hold a %)
        if "%" in host:
            # urllib3 (under requests) decodes 127%2e0%2e0%2e1 to 127.0.0.1, browsers too; other
            # clients differ. A host no two readers agree on is not a host a setting should hold.
            return True
        if not host.isascii():
            try:  # UTS #46 mapping, as browsers do: full-width ｌｏｃａｌｈｏｓｔ is localhost
                host = idna.encode(host, uts46=True).decode("ascii").rstrip(".")
            except idna.IDNAError:
                return True
    if host == "localhost" or host.endswith(".localhost"):  # RFC 6761: always loopback
        return True
    address = _address(host)
    if address is not None:
        return _local(address)
    try:
        resolved = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False  # a name that does not resolve reaches nothing, this machine included
    return any(_local(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])) for info in resolved)
