"""Notification API blueprint: the role-protected API (README, "The notification API") and the health probe.

Each handler: authorize (the decorator), parse, call the store, map the result. Who sees what:
app callers holding the role see every notification; users (delegated tokens) see only the
ones addressed to them (their object id or UPN), and a notification they may not see is a 404.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any

import azure.functions as func

from auth import Authorizer, Principal, anonymous, bodies, principal_of, problems

from . import payloads
from .settings import ApiSettings
from .store import IdempotencyKeyReused, InvalidPageToken, NotificationStore, StorageUnavailable, public

log = logging.getLogger(__name__)
Handler = Callable[[func.HttpRequest], func.HttpResponse]
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


@functools.cache
def store() -> NotificationStore:
    """One table client per process, made on first use."""
    return NotificationStore.from_settings(settings())


def _recipients(caller: Principal) -> list[str] | None:
    """None: the caller may see everything (an app with the role). Else the names that mean "me"."""
    return None if caller.is_app else [name for name in (caller.object_id, caller.username) if name]


def _visible(caller: Principal, notification: Mapping[str, Any]) -> bool:
    names = _recipients(caller)
    return names is None or notification["recipient"].lower() in (n.lower() for n in names)


def _handle_errors(handler: Handler) -> Handler:
    """Map the store's and the parser's exceptions to problem responses, in one place."""

    def run(req: func.HttpRequest) -> func.HttpResponse:
        try:
            return handler(req)
        except bodies.BodyError as exc:
            return exc.problem()
        except payloads.PayloadError as exc:
            if exc.errors:
                return problems.problem(exc.status, exc.detail, errors=exc.errors)
            return problems.problem(exc.status, exc.detail)
        except InvalidPageToken:
            return problems.problem(400, "pageToken is not one this API issued.")
        except IdempotencyKeyReused:
            return problems.problem(422, "This Idempotency-Key was used with a different request body.")
        except StorageUnavailable as exc:
            log.error("storage unavailable: %s", exc)
            return problems.unavailable("Notification storage is unavailable; nothing was changed. Retry later.")

    return functools.wraps(handler)(run)


@bp.route(route="health", methods=["GET"])
@anonymous
def health(req: func.HttpRequest) -> func.HttpResponse:
    """Liveness for load balancers and the local stack: anonymous on purpose, and says nothing else."""
    return func.HttpResponse('{"status":"ok"}', mimetype="application/json")


@bp.route(route="notifications", methods=["GET"])
@api.requires("notification.read", scope=READ_SCOPE)
@_handle_errors
def list_notifications(req: func.HttpRequest) -> func.HttpResponse:
    status, top, page_token = payloads.list_query(req)
    items, next_token = store().list(
        recipients=_recipients(principal_of(req)), status=status, top=top, page_token=page_token
    )
    return problems.json_response({"items": items, "nextPageToken": next_token})


@bp.route(route="notifications", methods=["POST"])
@api.requires("notification.create", scope=CREATE_SCOPE)
@_handle_errors
def create_notification(req: func.HttpRequest) -> func.HttpResponse:
    new = payloads.new_notification(req)
    key = payloads.idempotency_key(req)
    caller = principal_of(req)
    created, replayed = store().create(new, created_by=caller.object_id, idempotency_key=key)
    headers = {"Location": f"/api/notifications/{created['id']}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return problems.json_response(created, 201, headers)


@bp.route(route="notifications/{id}", methods=["GET"])
@api.requires("notification.read", scope=READ_SCOPE)
@_handle_errors
def get_notification(req: func.HttpRequest) -> func.HttpResponse:
    notification_id = payloads.notification_id(req)
    found = store().get(notification_id) if notification_id else None
    if found is None or not _visible(principal_of(req), found):
        return problems.problem(404, "No such notification.")
    return problems.json_response(public(found))


@bp.route(route="notifications/{id}/ack", methods=["POST"])
@api.requires("notification.read", scope=READ_SCOPE)
@_handle_errors
def acknowledge_notification(req: func.HttpRequest) -> func.HttpResponse:
    caller = principal_of(req)
    notification_id = payloads.notification_id(req)
    found = store().get(notification_id) if notification_id else None
    if notification_id is None or found is None or not _visible(caller, found):
        return problems.problem(404, "No such notification.")
    result = store().acknowledge(notification_id, by=caller.object_id)
    if result is None:
        return problems.problem(404, "No such notification.")
    notification, changed = result
    return problems.json_response(notification, headers={"X-Acknowledged-Now": "true" if changed else "false"})
