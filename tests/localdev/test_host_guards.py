"""The dev host answers only requests addressed to loopback on its own port (DNS rebinding), and stops
reading a body at the Functions host's limit. The rules, called as uvicorn calls the app."""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from localdev.host import MAX_REQUEST_BYTES, build
from tests.localdev.sample_app import bp

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 1024
# An app of its own: a FunctionApp indexes its functions once, and test_admin_guard builds the sample's.
_app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
_app.register_functions(bp)
APP = build(_app, ROOT, max_body_bytes=LIMIT)


def call(
    headers: list[tuple[bytes, bytes]], chunks: list[bytes] | None = None, port: int = 7071
) -> tuple[int, dict, int]:
    """PUT /api/echo through the ASGI app; the status, the JSON answer, and how many chunks were read."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": "/api/echo",
        "raw_path": b"/api/echo",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", port),
    }
    pending = list(chunks or [b""])
    read = 0
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        nonlocal read
        read += 1
        body = pending.pop(0) if pending else b""
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    asyncio.run(APP(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], (json.loads(body) if body else {}), read


@pytest.mark.parametrize(
    "host",
    [
        "evil.example:7071",  # DNS rebinding: the attacker's name, now pointing here
        "evil.example",
        "localhost:7072",  # another port: another origin
        "localhost",  # port 80 implied
        "127.0.0.2:7071",
        "localhost.:7071",
        "localhost.evil.example:7071",
        "0.0.0.0:7071",
        "[::2]:7071",
        "localhost:7071:7071",
        "localhost:07071x",
        "",
    ],
)
def test_a_foreign_host_header_is_refused(host: str) -> None:
    status, body, _ = call([(b"host", host.encode())])
    assert status == 400
    assert "localhost, 127.0.0.1 or [::1]" in body["error"]


def test_no_host_header_or_two_are_refused() -> None:
    assert call([])[0] == 400
    assert call([(b"host", b"localhost:7071"), (b"host", b"evil.example")])[0] == 400


@pytest.mark.parametrize("host", ["localhost:7071", "LOCALHOST:7071", "127.0.0.1:7071", "[::1]:7071"])
def test_loopback_names_on_the_hosts_port_are_served(host: str) -> None:
    status, body, _ = call([(b"host", host.encode())], [b"hi"])
    assert status == 201, body
    assert body["body"] == "hi"


def test_port_80_may_be_left_out() -> None:
    assert call([(b"host", b"localhost")], [b"hi"], port=80)[0] == 201


def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    headers = [(b"host", b"localhost:7071"), (b"content-length", str(200 * 1024 * 1024).encode())]
    status, _, read = call(headers, [b"x" * 100] * 50)
    assert status == 413
    assert read == 0


def test_a_stream_over_the_limit_stops_being_read_at_the_limit() -> None:
    status, _, read = call([(b"host", b"localhost:7071")], [b"x" * 512] * 100)  # 50 KiB, no length declared
    assert status == 413
    assert read == 3  # 1,536 bytes read, then no more


def test_a_body_at_the_limit_is_served() -> None:
    assert call([(b"host", b"localhost:7071")], [b"x" * 512, b"x" * 512])[0] == 201


def test_the_limit_is_the_functions_hosts() -> None:
    assert MAX_REQUEST_BYTES == 100 * 1024 * 1024
