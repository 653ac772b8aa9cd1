"""Where a sign-in may send its answer: the client's registered redirect URIs, matched as Entra does.

Entra sends a code or token only to a redirect URI registered on the client, compared exactly;
its one exception is the loopback URI of a public client (desktop and CLI apps listen on a port
the operating system picks), where any port matches a registered ``http://localhost`` or
``http://127.0.0.1`` with the same path. Everything else is AADSTS50011.

Exact string comparison alone is not enough: the string must also mean the same thing to us and
to the browser that follows it. ``https://evil.example\\@localhost/`` is ``localhost`` to Python's
``urlsplit`` and ``evil.example`` to every browser (WHATWG URL reads ``\\`` as ``/``). So a URI
with a backslash, user information, a fragment, control characters or a bad port is refused
before any comparison, and the URI a page posts to is rebuilt from its parsed parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

PLATFORMS = ("web", "spa", "publicClient")
LOOPBACK_HOSTS = ("localhost", "127.0.0.1")
MAX_LENGTH = 256  # Entra: 256 characters per redirect URI
# A DNS name or an IP literal, then an optional port of ASCII digits: nothing percent-encoded, no
# empty port, nothing a browser would read differently.
_AUTHORITY = re.compile(
    r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(?P<port>[0-9]{1,5}))?$"
)
# Entra refuses these in redirect URIs; a space or control character has no place in one either.
_REFUSED = re.compile(r"[\x00-\x20\x7f\\!$'(),;]")


@dataclass(frozen=True)
class RedirectUri:
    """One registered redirect URI and the platform it was registered under."""

    platform: str  # "web" | "spa" | "publicClient"
    uri: str


class UnsafeRedirectUri(ValueError):
    """The URI cannot be trusted to mean the same thing to us and to a browser; says why."""


def parse(uri: str) -> SplitResult:
    """The URI's parts, or UnsafeRedirectUri: an absolute http(s) URI that browsers read as we do."""
    if len(uri) > MAX_LENGTH:
        raise UnsafeRedirectUri(f"longer than {MAX_LENGTH} characters")
    bad = _REFUSED.search(uri)
    if bad:
        raise UnsafeRedirectUri(f"the character {bad.group()!r} is not allowed")
    if not uri.isascii():
        raise UnsafeRedirectUri("non-ASCII characters are not allowed (encode them)")
    if "#" in uri:
        raise UnsafeRedirectUri("a fragment is not allowed")
    try:
        parts = urlsplit(uri)
    except ValueError as exc:
        raise UnsafeRedirectUri(f"not a URI ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UnsafeRedirectUri("not an absolute http or https URI")
    if "@" in parts.netloc:
        raise UnsafeRedirectUri("user information (user@host) is not allowed")
    authority = _AUTHORITY.match(parts.netloc)
    if authority is None:
        raise UnsafeRedirectUri(f"{parts.netloc!r} is not a host name or address with an optional port")
    port = authority.group("port")
    if port is not None and not 0 < int(port) < 65536:
        raise UnsafeRedirectUri(f"port {port} is not a port")
    return parts


def is_loopback(parts: SplitResult) -> bool:
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS


def _same_path(a: SplitResult, b: SplitResult) -> bool:
    # Entra answers a URI without a path with a trailing slash: "" and "/" are one path.
    return (a.path or "/") == (b.path or "/") and a.query == b.query


def match(requested: str, registered: tuple[RedirectUri, ...]) -> RedirectUri | None:
    """The registration ``requested`` matches, or None. Raises UnsafeRedirectUri first if unsafe."""
    wanted = parse(requested)
    for entry in registered:
        try:
            known = parse(entry.uri)
        except UnsafeRedirectUri:
            continue  # refused when the directory was loaded; never matches
        if (known.scheme, known.netloc) == (wanted.scheme, wanted.netloc) and _same_path(known, wanted):
            return entry
        loopback = entry.platform == "publicClient" and is_loopback(known) and is_loopback(wanted)
        if loopback and known.hostname == wanted.hostname and _same_path(known, wanted):
            return entry  # RFC 8252 §7.3: any port for a native app's loopback listener
    return None


def action(uri: str) -> str:
    """The URI a page may post to or a Location may name: rebuilt from the parsed (already safe) parts."""
    parts = parse(uri)
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path, parts.query, ""))
