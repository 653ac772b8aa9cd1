"""Ctrl-C stops the emulator and the dev host at once and quietly, also while a client keeps an idle
keep-alive connection open (as requests' pool, a browser or the Azure CLI do)."""

from __future__ import annotations

import signal
import socket
import ssl
import sys
from pathlib import Path

import pytest

from tests.processes import ReadyProcess, sample_settings


def server(kind: str, tmp_path: Path) -> ReadyProcess:
    if kind == "emulator":
        command = [sys.executable, "-m", "emulator", "--state-dir", str(tmp_path / "state"), "serve", "--port", "0"]
        return ReadyProcess(command, "emulator ready on ", tmp_path / "emulator.log")
    command = [sys.executable, "-m", "localdev", "host", "--port", "0"]
    return ReadyProcess(command, "dev host ready on ", tmp_path / "host.log", env=sample_settings())


def keep_alive_client(kind: str, port: int) -> socket.socket:
    """One request answered, then the connection left open and idle."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if kind == "emulator":
        tls = ssl.create_default_context()
        tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE  # a raw socket: the CA is not the point
        sock = tls.wrap_socket(sock, server_hostname="localhost")
    path = "/common/v2.0/.well-known/openid-configuration" if kind == "emulator" else "/api/health"
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n".encode())  # as clients send it
    assert sock.recv(64).startswith(b"HTTP/1.1 200")
    return sock


@pytest.mark.parametrize("kind", ["emulator", "host"])
def test_ctrl_c_stops_at_once_and_quietly_with_a_keep_alive_client(kind: str, tmp_path: Path) -> None:
    """Regression: the emulator waited out its graceful timeout and logged "ERROR: ... timeout graceful
    shutdown exceeded" (over TLS, closing an idle connection waits for the client's close_notify), and
    both printed a KeyboardInterrupt traceback (uvicorn re-raises the signal it handled)."""
    process = server(kind, tmp_path)
    port = int(process.ready_line.rsplit(":", 1)[1].split("/")[0].split()[0])
    client = keep_alive_client(kind, port)
    try:
        status = process.stop(signal.SIGINT)
    finally:
        client.close()
    output = "".join(process.output) + process.log_path.read_text()
    assert "Traceback" not in output
    assert "ERROR" not in output  # "timeout graceful shutdown exceeded": it waited for the idle client
    assert status == 130  # stopped by Ctrl-C, said the usual way
