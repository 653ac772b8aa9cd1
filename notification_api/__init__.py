"""Notification API blueprint: the role-protected API (docs/notification-api.md) and the health probe.

Each handler: authorize (the guard), parse, call the store, answer; what fails on the way (the
payload checks, the store) raises a ``Problem``, which ``answers_problems`` sends. Who sees what:
everything is within the caller's tenant (``tid``); there, app callers holding the role see every
notification, and users (delegated tokens) only those addressed to their object id (``oid``).
A notification they may not see, or another tenant's, is a 404. The store applies that rule
(``Visibility``) on every read and write; handlers only name the caller.
"""

from __future__ import annotations

import functools

import azure.functions as func

from auth import Authorizer, Principal, anonymous, principal_of
from web import Problem, answers_problems, json_response

from . import openapi, payloads
from .settings import ApiSettings
from .store import NotificationStore, Visibility

bp = func.Blueprint()
# Delegated scopes: values of their own, because Entra refuses a role and a scope sharing one
# (the roles, notification.read and notification.create, keep the article's names).
READ_SCOPE = "Notifications.Read"
CREATE_SCOPE = "Notifications.Create"


@functools.cache
def settings() -> ApiSettings:
    """Read once: function_app.py calls this at start, so a missing setting stops the host there."""
    return ApiSettings.from_env()


api = Authorizer(lambda: settings().auth)
OPENAPI = openapi.part(READ_SCOPE, CREATE_SCOPE, lambda: settings().auth)  # its routes in /api/openapi.json


@functools.cache
def store() -> NotificationStore:
    """One table client per process, made on first use."""
    return NotificationStore.from_settings(settings())


def visibility(caller: Principal) -> Visibility:
    """An app holding the role sees its tenant's notifications (the home tenant's apps also those an
    earlier version stored); a user only those addressed to their ``tid`` + ``oid``, never by name."""
    if caller.is_app:
        return Visibility.tenant(caller.tenant_id, legacy=caller.tenant_id == settings().auth.tenant_id)
    return Visibility.mailbox(caller.tenant_id, caller.object_id)


NOT_FOUND = "No such notification."


@bp.route(route="health", methods=["GET"])
@anonymous
def health(req: func.HttpRequest) -> func.HttpResponse:
    """Liveness for load balancers and the local stack: anonymous on purpose, and says nothing else."""
    return func.HttpResponse('{"status":"ok"}', mimetype="application/json")


@bp.route(route="notifications", methods=["GET"])
@api.requires("notification.read", scope=READ_SCOPE)
@answers_problems
def list_notifications(req: func.HttpRequest) -> func.HttpResponse:
    status, top, page_token = payloads.list_query(req)
    items, next_token = store().list(visibility(principal_of(req)), status=status, top=top, page_token=page_token)
    return json_response({"items": items, "nextPageToken": next_token})


@bp.route(route="notifications", methods=["POST"])
@api.requires("notification.create", scope=CREATE_SCOPE)
@answers_problems
def create_notification(req: func.HttpRequest) -> func.HttpResponse:
    new = payloads.new_notification(req)
    key = payloads.idempotency_key(req)
    caller = principal_of(req)
    created, replayed = store().create(new, caller.tenant_id, created_by=caller.object_id, idempotency_key=key)
    # Absolute, from the URL this request came to: no route prefix (host.json's "api") written here.
    headers = {"Location": f"{req.url.split('?', 1)[0].rstrip('/')}/{created['id']}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(created, 201, headers)


@bp.route(route="notifications/{id}", methods=["GET"])
@api.requires("notification.read", scope=READ_SCOPE)
@answers_problems
def get_notification(req: func.HttpRequest) -> func.HttpResponse:
    notification_id = payloads.notification_id(req)
    found = store().get(notification_id, visibility(principal_of(req))) if notification_id is not None else None
    if found is None:
        raise Problem(404, NOT_FOUND)
    return json_response(found)


@bp.route(route="notifications/{id}/ack", methods=["POST"])
@api.requires("notification.read", scope=READ_SCOPE)
@answers_problems
def acknowledge_notification(req: func.HttpRequest) -> func.HttpResponse:
    caller = principal_of(req)
    notification_id = payloads.notification_id(req)
    if notification_id is None:
        raise Problem(404, NOT_FOUND)
    result = store().acknowledge(notification_id, by=caller.object_id, visible=visibility(caller))
    if result is None:
        raise Problem(404, NOT_FOUND)
    notification, changed = result
    return json_response(notification, headers={"X-Acknowledged-Now": "true" if changed else "false"})
