"""A dev host for machines without Azure Functions Core Tools .

It serves the very ``function_app.py`` the Functions host would load: the routes come from
``app.get_functions()`` and the prefix from ``host.json``, so there is no second routing table.
Handlers get real ``func.HttpRequest`` objects and return real ``func.HttpResponse`` objects.
Timer functions run on ``POST /admin/functions/{name}`` (as with Core Tools) and, with
``--run-timers``, on their NCRONTAB schedule.

Not emulated: function keys (every route here is anonymous; each route checks the bearer token itself), bindings other
than HTTP and timer, and host.json settings other than ``routePrefix``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import importlib
import inspect
import ipaddress
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path

import azure.functions as func
from azure.functions import _abc
from azure.functions.decorators.function_app import Function
from azure.functions.decorators.http import HttpTrigger
from azure.functions.decorators.timer import TimerTrigger
from azure.functions.timer import TimerRequest
from croniter import croniter
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .routes import Template, shown, translate

log = logging.getLogger("localdev.host")

# The Functions host's limit on a request body (100 MB, then 413): the dev host stops reading there.
MAX_REQUEST_BYTES = 100 * 1024 * 1024
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
_HOST_HEADER = re.compile(r"^(?P<name>\[[^\]]*\]|[^:\[\]]*)(?::(?P<port>[0-9]{1,5}))?$")


class InvocationContext(_abc.Context):
    """The ``context`` argument a handler may declare."""

    def __init__(self, function_name: str, directory: str) -> None:
        self._function_name, self._directory, self._id = function_name, directory, str(uuid.uuid4())

    invocation_id = property(lambda self: self._id)
    function_name = property(lambda self: self._function_name)
    function_directory = property(lambda self: self._directory)
    thread_local_storage = property(lambda self: None)
    trace_context = property(lambda self: None)
    retry_context = property(lambda self: None)


def apply_local_settings(path: Path, environ: MutableMapping[str, str]) -> list[str]:
    """The Values of ``local.settings.json`` into ``environ``, as ``func start`` applies them: only where
    the environment has no variable of that name. Returns the skipped names whose file value is not
    empty (Core Tools prints a "Skipping" line for each). No file: nothing to apply, as with Core Tools.
    """
    if not path.exists():
        return []
    try:
        values = json.loads(path.read_text()).get("Values", {})
    except (ValueError, AttributeError) as exc:
        raise ValueError(f"{path} is not a local.settings.json (a JSON object with Values): {exc}") from None
    skipped = []
    for name, value in values.items():
        if name not in environ:
            environ[name] = "" if value is None else str(value)
        elif value not in (None, ""):
            skipped.append(name)
    return skipped


def load_app(spec: str) -> func.FunctionApp:
    """``module:attribute``, by default ``function_app:app``."""
    module_name, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module_name), attribute or "app")


def route_prefix(root: Path) -> str:
    try:
        host = json.loads((root / "host.json").read_text())
    except FileNotFoundError:
        return "api"
    return host.get("extensions", {}).get("http", {}).get("routePrefix", "api")


def function_name(function: Function) -> str:
    """Every indexed function has a name (the decorator's, or the Python function's): typed as one."""
    name = function.get_function_name()
    if name is None:
        raise ValueError(f"function {function.get_user_function()!r} has no name")
    return name


async def invoke(function: Function, trigger_name: str, trigger_value: object, root: Path) -> object:
    """Call the user function with its trigger (and ``context`` if it asks), sync or async."""
    user_function = function.get_user_function()
    kwargs: dict[str, object] = {trigger_name: trigger_value}
    for name, parameter in inspect.signature(user_function).parameters.items():
        if name == "context" or parameter.annotation in (func.Context, "func.Context"):
            kwargs[name] = InvocationContext(function_name(function), str(root))
    if inspect.iscoroutinefunction(user_function):
        return await user_function(**kwargs)
    return await run_in_threadpool(functools.partial(user_function, **kwargs))


def to_response(result: object) -> Response:
    """``func.HttpResponse`` (or a str/bytes, which the worker turns into a 200) as an HTTP response."""
    if isinstance(result, str | bytes):
        result = func.HttpResponse(result)
    if not isinstance(result, func.HttpResponse):
        raise TypeError(f"an HTTP function returned {type(result).__name__}, not func.HttpResponse")
    headers = dict(result.headers)
    if not any(k.lower() == "content-type" for k in headers) and result.mimetype:
        charset = f"; charset={result.charset}" if result.charset else ""
        headers["Content-Type"] = f"{result.mimetype}{charset}"
    return Response(result.get_body(), status_code=result.status_code, headers=headers)


def _too_large(limit: int) -> Response:
    return JSONResponse({"error": f"the request body is over {limit} bytes"}, status_code=413)


async def read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None once it passes ``limit`` bytes: a declared length over the limit is refused
    before anything is read, and a longer stream stops being read at the limit."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _http_endpoint(
    function: Function, trigger: HttpTrigger, root: Path, max_body_bytes: int
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        body = await read_body(request, max_body_bytes)
        if body is None:
            return _too_large(max_body_bytes)
        request_obj = func.HttpRequest(
            method=request.method,
            url=str(request.url),
            headers=dict(request.headers),
            params=dict(request.query_params),
            route_params=dict(request.path_params),
            body=body,
        )
        try:
            result = await invoke(function, trigger.name, request_obj, root)
            return to_response(result)
        except Exception:
            # As the Functions host: the caller gets an empty 500, the traceback goes to the log.
            log.exception("Executed 'Functions.%s' (Failed)", function_name(function))
            return Response(status_code=500)

    return endpoint


def admin_refusal(request: Request) -> str | None:
    """The admin route runs the app's own code with its identity: this machine only, and no web page.

    Loopback by address (the host may listen on every interface); a browser adds ``Origin`` to a
    cross-site POST, which no tool that triggers timers sends.
    """
    try:
        local = ipaddress.ip_address((request.client.host if request.client else "").split("%", 1)[0]).is_loopback
    except ValueError:
        local = False
    if not local:
        return "the admin API answers loopback clients only"
    if "origin" in request.headers:
        return "the admin API does not answer web pages (a request with Origin)"
    return None


class LoopbackHostOnly:
    """Answers only requests addressed to this machine by name: ``localhost``, ``127.0.0.1`` or ``[::1]``
    on the port the host listens on. Anything else is a 400, before any route runs.

    A web page cannot read another origin's answers, unless its own name resolves here: with DNS
    rebinding, ``evil.example`` first points at the attacker's server, then at 127.0.0.1, and the
    page's requests reach this host as same-origin (with ``Host: evil.example``). The Host check
    breaks that; Kestrel's ``AllowedHosts`` does the same for ASP.NET Core.
    """

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and not self.allowed(scope):
            response = JSONResponse(
                {"error": "the dev host answers requests for localhost, 127.0.0.1 or [::1] on its own port only"},
                status_code=400,
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def allowed(scope: dict) -> bool:
        hosts = [v for k, v in scope.get("headers", []) if k == b"host"]
        if len(hosts) != 1:
            return False
        found = _HOST_HEADER.match(hosts[0].decode("latin-1").lower())
        if found is None:
            return False
        name, port = found.group("name"), found.group("port")
        server_port = (scope.get("server") or (None, None))[1]
        return name in LOOPBACK_NAMES and (port == str(server_port) or (port is None and server_port == 80))


def build(
    app: func.FunctionApp, root: Path, *, run_timers: bool = False, max_body_bytes: int = MAX_REQUEST_BYTES
) -> Starlette:
    prefix = route_prefix(root)
    functions = {function_name(f): f for f in app.get_functions()}
    http_routes: list[tuple[Template, list[str] | None, Function, HttpTrigger]] = []
    timers: dict[str, tuple[Function, TimerTrigger]] = {}
    for name, function in functions.items():
        trigger = function.get_trigger()
        if isinstance(trigger, HttpTrigger):
            template = translate(trigger.route if trigger.route is not None else name, prefix)
            methods = [str(getattr(m, "value", m)).upper() for m in (trigger.methods or [])] or None
            http_routes.append((template, methods, function, trigger))
        elif isinstance(trigger, TimerTrigger):
            timers[name] = (function, trigger)
    http_routes.sort(key=lambda item: item[0].precedence)

    async def trigger_function(request: Request) -> Response:
        """Core Tools' way to run a non-HTTP function now. Waits for the run, then answers 202."""
        refusal = admin_refusal(request)
        if refusal:
            log.warning("refused POST %s: %s", request.url.path, refusal)
            return JSONResponse({"error": refusal}, status_code=403)
        name = request.path_params["name"]
        if name not in timers:
            kind = "an HTTP function: call its route" if name in functions else "no such function"
            return JSONResponse({"error": f"{name}: {kind}"}, status_code=404 if name not in functions else 400)
        function, trigger = timers[name]
        try:
            await invoke(function, trigger.name, TimerRequest(past_due=False), root)
        except Exception:
            log.exception("Executed 'Functions.%s' (Failed)", name)
            return JSONResponse({"error": f"{name} failed; see the host log"}, status_code=500)
        return Response(status_code=202)

    routes = [Route("/admin/functions/{name}", trigger_function, methods=["POST"])]
    for template, methods, function, trigger in http_routes:
        endpoint = _http_endpoint(function, trigger, root, max_body_bytes)
        for path in template.paths:
            route = Route(path, endpoint, methods=methods)
            # ASP.NET Core routing, which the Functions host uses, ignores the case of literal segments.
            route.path_regex = re.compile(route.path_regex.pattern, re.IGNORECASE)
            routes.append(route)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette):
        tasks = (
            [
                asyncio.create_task(_run_on_schedule(name, function, trigger, root))
                for name, (function, trigger) in timers.items()
            ]
            if run_timers
            else []
        )
        yield
        for task in tasks:
            task.cancel()

    starlette = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(LoopbackHostOnly)])
    starlette.state.http_routes = [(function_name(f), m, shown(t.template, prefix)) for t, m, f, _ in http_routes]
    starlette.state.timers = {name: trigger.schedule for name, (_, trigger) in timers.items()}
    return starlette


async def _run_on_schedule(name: str, function: Function, trigger: TimerTrigger, root: Path) -> None:
    # NCRONTAB has six fields with seconds first; croniter reads that with second_at_beginning.
    schedule = croniter(trigger.schedule, dt.datetime.now(dt.UTC), second_at_beginning=True)
    while True:
        next_run = schedule.get_next(dt.datetime)
        await asyncio.sleep(max(0.0, (next_run - dt.datetime.now(dt.UTC)).total_seconds()))
        try:
            await invoke(function, trigger.name, TimerRequest(past_due=False), root)
            log.info("Executed 'Functions.%s' (Succeeded)", name)
        except Exception:
            log.exception("Executed 'Functions.%s' (Failed)", name)
