"""The dev host serves a function app as the Functions host would: routes, requests, responses, timers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.processes import ROOT, ReadyProcess, fresh_clone, sample_settings

READY = "dev host ready on "


def start_host(tmp_path, *args: str, env: dict | None = None) -> tuple[ReadyProcess, str]:
    # The sample's app settings: function_app.py reads its settings at start and stops without them.
    process = ReadyProcess(
        [sys.executable, "-m", "localdev", "host", "--port", "0", *args],
        READY,
        tmp_path / "host.log",
        env={**sample_settings(), **(env or {})},
    )
    base = process.ready_line.removeprefix(READY).split()[0]
    return process, base


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    process, base = start_host(tmp_path_factory.mktemp("host"), "--app", "tests.localdev.sample_app:app")
    yield process, base
    process.stop()


def test_route_templates(host) -> None:
    _, base = host
    cases = {
        "/items/42": ("by-id", {"id": "42"}),
        "/items/latest": ("latest", {}),  # a literal beats a parameter, whatever the order of definition
        "/items/widget": ("by-name", {"name": "widget"}),
        "/users": ("users", {}),
        "/users/7": ("users", {"id": "7"}),
        "/files/a/b/c.txt": ("files", {"rest": "a/b/c.txt"}),
        "/ITEMS/Latest": ("latest", {}),  # literals match whatever their case, as in ASP.NET Core
        "/Items/Widget": ("by-name", {"name": "Widget"}),  # values keep theirs
    }
    for path, (route, params) in cases.items():
        response = requests.get(f"{base}{path}", timeout=5)
        assert response.status_code == 200, (path, response.text)
        assert response.json() == {"route": route, "params": params}, path
    assert requests.get(f"{base}/items/1/2", timeout=5).status_code == 404


def test_request_and_response_round_trip(host) -> None:
    _, base = host
    response = requests.put(f"{base}/echo?a=1&b=two", data="héllo".encode(), headers={"X-Test": "t"}, timeout=5)
    assert response.status_code == 201
    assert response.headers["x-echo"] == "yes"
    assert response.headers["content-type"] == "application/vnd.test+json; charset=latin-1"
    body = response.json()
    assert body["method"] == "PUT"
    assert body["query"] == {"a": "1", "b": "two"}
    assert body["header"] == "t"
    assert body["body"] == "héllo"
    assert body["url"].endswith("/api/echo?a=1&b=two")


def test_methods_are_enforced(host) -> None:
    _, base = host
    assert requests.get(f"{base}/echo", timeout=5).status_code in (404, 405)


def test_async_handler_gets_a_context(host) -> None:
    _, base = host
    body = requests.get(f"{base}/async_context", timeout=5).json()
    assert body["function"] == "async_context"
    assert len(body["invocation"]) == 36


def test_a_failing_handler_is_an_empty_500_with_the_traceback_logged(host) -> None:
    process, base = host
    response = requests.get(f"{base}/boom", timeout=5)
    assert response.status_code == 500
    assert response.content == b""
    log = process.log_text()
    assert "Executed 'Functions.boom' (Failed)" in log
    assert "RuntimeError: the handler failed on purpose" in log


def test_requests_are_served_concurrently(host) -> None:
    _, base = host
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: requests.get(f"{base}/barrier", timeout=15), range(2)))
    assert [r.status_code for r in results] == [200, 200]


def test_timer_runs_through_the_admin_endpoint(host) -> None:
    _, base = host
    origin = base.removesuffix("/api")
    before = requests.get(f"{base}/ticks", timeout=5).json()["count"]
    assert requests.post(f"{origin}/admin/functions/tick", json={"input": ""}, timeout=5).status_code == 202
    assert requests.get(f"{base}/ticks", timeout=5).json()["count"] == before + 1
    assert requests.post(f"{origin}/admin/functions/nope", json={}, timeout=5).status_code == 404
    assert requests.post(f"{origin}/admin/functions/echo", json={}, timeout=5).status_code == 400


def test_run_timers_follows_the_schedule(tmp_path) -> None:
    process, base = start_host(tmp_path, "--app", "tests.localdev.sample_app:app", "--run-timers")
    try:
        deadline = time.monotonic() + 20
        count = 0
        while time.monotonic() < deadline and count < 2:  # every second by its NCRONTAB schedule
            time.sleep(0.5)
            count = requests.get(f"{base}/ticks", timeout=5).json()["count"]
        assert count >= 2
    finally:
        process.stop()


def test_the_real_function_app_and_apps_selection(tmp_path) -> None:
    process, base = start_host(tmp_path, env={"APPS": "notification_api"})
    try:
        assert requests.get(f"{base}/health", timeout=5).json() == {"status": "ok"}
        assert "APPS=notification_api" in process.ready_line
    finally:
        process.stop()
    process, base = start_host(tmp_path, env={"APPS": "caller_app"})
    try:
        assert requests.get(f"{base}/health", timeout=5).status_code == 404
    finally:
        process.stop()


def test_unknown_app_name_fails_at_start(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "localdev", "host", "--port", "0"],
        cwd=ROOT,
        env={**__import__("os").environ, "APPS": "notification_api,billing"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "APPS names unknown app(s) billing" in result.stderr
    assert "Traceback" not in result.stderr


def test_busy_port_is_a_clear_error(host) -> None:
    _, base = host
    port = base.rsplit(":", 1)[1].split("/")[0]
    result = subprocess.run(
        [sys.executable, "-m", "localdev", "host", "--port", port],
        cwd=ROOT,
        env={**__import__("os").environ, **sample_settings()},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_sigterm_stops_the_host_and_frees_the_port(tmp_path) -> None:
    process, base = start_host(tmp_path)
    port = int(base.rsplit(":", 1)[1].split("/")[0])
    # uvicorn shuts down cleanly, then re-raises the signal so the exit status tells why.
    assert process.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # raises if anything still listens


def test_the_banner_shows_routes_as_written(host) -> None:
    """As Core Tools prints them: `{id:int}` and `{id?}`, never the dev host's own converters."""
    process, base = host
    banner = "".join(process.output)
    origin = base.removesuffix("/api")
    for route in ("/api/items/{id:int}", "/api/items/{name}", "/api/users/{id?}", "/api/files/{*rest}"):
        assert f"{origin}{route}\n" in banner, route
    assert "fnsegment" not in banner
    assert ":fn" not in banner


def test_local_settings_json_is_read_as_func_start_reads_it(tmp_path) -> None:
    """A clone with a local.settings.json (the sample, copied) and a shell that sets one of its names:
    the file's Values reach the app, except where the environment has the name, which wins and is
    named, in Core Tools' words. Regression: the dev host read no file, and stopped for want of settings."""
    clone = fresh_clone(tmp_path / "clone")
    values = {**sample_settings(), "APPS": "caller_app"}
    (clone / "local.settings.json").write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    shell = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "APPS": "notification_api"}
    process = ReadyProcess(
        [sys.executable, "-m", "localdev", "host", "--port", "0"],
        READY,
        tmp_path / "host.log",
        env=shell,
        inherit_env=False,
        cwd=clone,
    )
    try:
        base = process.ready_line.removeprefix(READY).split()[0]
        assert "APPS=notification_api" in process.ready_line  # the environment's, not the file's
        assert requests.get(f"{base}/health", timeout=5).json() == {"status": "ok"}
        skipped = [line for line in process.output if line.startswith("Skipping")]
        assert skipped == [
            "Skipping 'APPS' from local settings as it's already defined in current environment variables.\n"
        ]
    finally:
        process.stop()


def test_the_dev_host_serves_another_projects_function_app(tmp_path) -> None:
    """What the README promises someone who adopts the patterns: run from this clone, in their project."""
    (tmp_path / "function_app.py").write_text(
        "import os\n\nimport azure.functions as func\n\n"
        "app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)\n\n\n"
        '@app.route(route="hello")\n'
        "def hello(req: func.HttpRequest) -> func.HttpResponse:\n"
        '    return func.HttpResponse(os.environ["GREETING"])\n'
    )
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    (tmp_path / "local.settings.json").write_text(json.dumps({"Values": {"GREETING": "hello from the file"}}))
    shell = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "localdev", "host", "--port", "0"]
    process = ReadyProcess(command, READY, tmp_path / "host.log", env=shell, inherit_env=False, cwd=tmp_path)
    try:
        base = process.ready_line.removeprefix(READY).split()[0]
        assert requests.get(f"{base}/hello", timeout=5).text == "hello from the file"
    finally:
        process.stop()
