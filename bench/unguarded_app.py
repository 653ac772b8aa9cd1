"""The baseline for bench/api_guard.py: the API's list handler with the guard taken away.

It attaches a fixed app principal where the guard would attach the validated one, and runs the
same handler (parsing, storage, error mapping). Benchmark only: never deploy an unguarded route.
"""

import azure.functions as func

import notification_api
from auth import Principal

_source = func.FunctionApp()
_source.register_functions(notification_api.bp)
_guarded = next(f.get_user_function() for f in _source.get_functions() if f.get_function_name() == "list_notifications")
HANDLER = _guarded.__wrapped__  # beneath @api.requires: the error mapping and the handler itself
CALLER = Principal(
    object_id="bench",
    tenant_id="bench",
    app_id="bench",
    roles=frozenset({"notification.read"}),
    scopes=frozenset(),
    is_app=True,
)

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="notifications", methods=["GET"])
def unguarded_list(req: func.HttpRequest) -> func.HttpResponse:
    req._auth_principal = CALLER  # what the guard's authorize() does after validating the token
    return HANDLER(req)
