"""The baseline for bench/api_guard.py: the API's list handler with the guard taken away.

It attaches a fixed app principal where the guard would attach the validated one, and runs the
same handler (parsing, storage, error mapping). Benchmark only: never deploy an unguarded route.
"""

import azure.functions as func

import notification_api
from auth import Principal
from auth.guards import attach_principal

_source = func.FunctionApp()
_source.register_functions(notification_api.bp)
_guarded = next(f.get_user_function() for f in _source.get_functions() if f.get_function_name() == "list_notifications")
# Beneath @api.requires: the error mapping and the handler itself. functools.wraps sets __wrapped__,
# which the guard's declared type does not show.
HANDLER = _guarded.__wrapped__  # type: ignore[attr-defined]
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
    # What the guard's authorize() does after validating the token; the guard offers no typed way in yet.
    attach_principal(req, CALLER)  # what the guard does after validating the token
    return HANDLER(req)
