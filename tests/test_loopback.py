"""Every spelling of "this machine" is loopback to the production guard."""

from __future__ import annotations

import socket

import pytest

from appsettings import is_loopback


@pytest.mark.parametrize(
    "url",
    [
        "https://localhost:8443",
        "https://LOCALHOST:8443",
        "https://localhost.:8443",  # the fully qualified spelling
        "https://emulator.localhost",
        "https://127.0.0.1:8443",
        "https://127.1:8443",  # inet_aton's short forms
        "https://2130706433:8443",  # one 32-bit number
        "https://0x7f.0.0.1",
        "https://017700000001",
        "https://127.8.9.10",  # all of 127/8
        "https://0.0.0.0:8443",  # connects to this host
        "https://[::1]:8443",
        "https://[::]:8443",
        "https://[::ffff:127.0.0.1]:8443",  # IPv4-mapped
        "https://[0:0:0:0:0:0:0:1]",
        "https://[::1",  # unparseable: refused rather than waved through
    ],
)
def test_loopback_spellings(url: str) -> None:
    assert is_loopback(url)


@pytest.mark.parametrize(
    "url", ["https://login.microsoftonline.com", "https://10.0.0.4", "https://[2001:db8::1]", "https://x.invalid", ""]
)
def test_not_loopback(url: str) -> None:
    assert not is_loopback(url)


def test_a_name_that_resolves_to_loopback_is_loopback(monkeypatch) -> None:
    real = socket.getaddrinfo

    def resolver(host, *args, **kwargs):
        if host == "login.contoso.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 0))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    assert is_loopback("https://login.contoso.test/")


@pytest.mark.parametrize(
    "url",
    [
        "https://127%2e0%2e0%2e1:8443",  # urllib3, under requests, decodes this to 127.0.0.1
        "https://%6c%6f%63alhost",
        "https://evil%2eexample",  # any % in a host: no two clients read it alike
        "https://ｌｏｃａｌｈｏｓｔ",  # full-width: UTS #46 maps it to localhost, as browsers do
        "https://１２７.０.０.１",
        "https://emulator.ｌｏｃａｌｈｏｓｔ",
        "https://a\u200db.example",  # a joiner IDNA refuses: unreadable, so refused
        "https://\u00adlocalhost",  # soft hyphen, mapped away
    ],
)
def test_percent_encoded_and_international_spellings(url: str) -> None:
    assert is_loopback(url)


def test_an_international_name_elsewhere_is_not_loopback() -> None:
    assert not is_loopback("https://bücher.invalid")
