"""A function app that exercises what the dev host must read like the Functions host does."""

from __future__ import annotations

import json
import threading

import azure.functions as func

bp = func.Blueprint()
_ticks = {"count": 0}
_barrier = threading.Barrier(2, timeout=10)


def _json(value: object, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(value), status_code=status, mimetype="application/json")


@bp.route(route="items/{id:int}", methods=["GET"])
def item_by_id(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"route": "by-id", "params": dict(req.route_params)})


@bp.route(route="items/{name}", methods=["GET"])
def item_by_name(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"route": "by-name", "params": dict(req.route_params)})


@bp.route(route="items/latest", methods=["GET"])
def latest_item(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"route": "latest", "params": dict(req.route_params)})


@bp.route(route="users/{id?}", methods=["GET"])
def users(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"route": "users", "params": dict(req.route_params)})


@bp.route(route="files/{*rest}", methods=["GET"])
def files(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"route": "files", "params": dict(req.route_params)})


@bp.route(route="echo", methods=["POST", "PUT"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    body = {
        "method": req.method,
        "query": dict(req.params),
        "header": req.headers.get("x-test"),
        "body": req.get_body().decode(),
        "url": req.url,
    }
    return func.HttpResponse(
        json.dumps(body),
        status_code=201,
        headers={"X-Echo": "yes"},
        mimetype="application/vnd.test+json",
        charset="latin-1",
    )


@bp.route(methods=["GET"])
async def async_context(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return _json({"function": context.function_name, "invocation": context.invocation_id})


@bp.route(route="boom")
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("the handler failed on purpose")


@bp.route(route="barrier")
def barrier(req: func.HttpRequest) -> func.HttpResponse:
    """Returns only when two requests are inside at once: proof of concurrent serving."""
    _barrier.wait()
    return func.HttpResponse("together")


@bp.timer_trigger(schedule="* * * * * *", arg_name="timer", run_on_startup=False)
def tick(timer: func.TimerRequest) -> None:
    _ticks["count"] += 1


@bp.route(route="ticks")
def ticks(req: func.HttpRequest) -> func.HttpResponse:
    return _json(_ticks)


app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(bp)
