"""The dev host's ``POST /admin/functions/{name}`` runs the app's code with its identity: loopback
clients only, and never a web page. The real rule, called as the server calls it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest

from localdev.host import build
from tests.localdev.sample_app import app as sample_app

ROOT = Path(__file__).resolve().parents[2]
APP = build(sample_app, ROOT)


def post(path: str, client: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    """One request through the ASGI app, from ``client`` (as uvicorn fills in the peer address)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (k.lower().encode(), v.encode())
            for k, v in {"host": "127.0.0.1:7071", "content-type": "application/json", **(headers or {})}.items()
        ],
        "client": (client, 50000),
        "server": ("127.0.0.1", 7071),
    }
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    asyncio.run(APP(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], (json.loads(body) if body else {})


@pytest.mark.parametrize("client", ["10.0.0.7", "192.168.1.20", "2001:db8::5", "testclient"])
def test_other_machines_are_refused(client: str) -> None:
    status, body = post("/admin/functions/tick", client)
    assert status == 403
    assert "loopback" in body["error"]


def test_a_web_page_on_this_machine_is_refused() -> None:
    status, body = post("/admin/functions/tick", "127.0.0.1", {"Origin": "https://evil.example"})
    assert status == 403
    assert "Origin" in body["error"]


@pytest.mark.parametrize("client", ["127.0.0.1", "::1"])
def test_loopback_tools_are_served(client: str) -> None:
    assert post("/admin/functions/tick", client)[0] == 202
