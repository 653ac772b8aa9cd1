"""Caller app blueprint: service-to-service with a managed identity, no secret anywhere.

Read top to bottom: the credential (once per process), the API client that uses it, the Key
Vault secret read with it, then the timer that does the real work and the debug routes that let
you drive and inspect it locally. The line that checks the role is on the API's side:
``AuthRequirement.missing`` in auth/guards.py.

The HTTP routes are debug-only (404 unless DEBUG_ENDPOINTS=true, as the local stack sets): exposed publicly they
would let anyone act with this app's identity (a confused deputy). In production the caller's
own logic (the timer) calls the API.
"""

from __future__ import annotations

import functools
import logging

import azure.functions as func
import requests
from azure.core.credentials import TokenCredential

from auth import debug_only
from outbound import BearerClient, build_credential, credential_tokens, retrying_session
from web import Problem, answers_problems, bodies, json_response

from . import openapi
from .api import NotificationApi
from .delivery import deliver_pending as deliver
from .settings import CallerSettings
from .token_report import describe
from .vault import CachedSecret, secret_client

log = logging.getLogger(__name__)
bp = func.Blueprint()
OPENAPI = openapi.PART  # this blueprint's routes in /api/openapi.json


@functools.cache
def settings() -> CallerSettings:
    """Read once: function_app.py calls this at start, so a missing setting stops the host there."""
    return CallerSettings.from_env()


@functools.cache
def credential() -> TokenCredential:
    """One credential for the life of the process, for the API and Key Vault alike: its token cache
    is what keeps the managed identity endpoint out of every request (system-assigned, or
    user-assigned when AZURE_CLIENT_ID is set)."""
    return build_credential(settings().client_id)


@functools.cache
def notification_api() -> NotificationApi:
    tokens = credential_tokens(credential(), settings().api_scope)
    return NotificationApi(BearerClient(settings().api_url, tokens, service="notification API"))


@functools.cache
def webhook_secret() -> CachedSecret:
    config = settings()
    verify = config.verify_challenge_resource
    return CachedSecret(secret_client(credential(), config.key_vault_url, verify), config.webhook_secret_name)


@functools.cache
def webhook_session() -> requests.Session:
    return retrying_session()


@bp.route(route="caller/notifications", methods=["GET"])
@debug_only
@answers_problems
def caller_list(req: func.HttpRequest) -> func.HttpResponse:
    """Pending notifications, fetched from the API with this app's identity."""
    return json_response({"items": notification_api().pending()})


@bp.route(route="caller/notifications", methods=["POST"])
@debug_only
@answers_problems
def caller_create(req: func.HttpRequest) -> func.HttpResponse:
    notification = bodies.json_object(req)
    created = notification_api().create(notification, req.headers.get("Idempotency-Key"))
    return json_response(created, 201)


@bp.route(route="caller/token", methods=["GET"])
@debug_only
@answers_problems
def caller_token(req: func.HttpRequest) -> func.HttpResponse:
    """The claims of the token this app holds for the API. Never the token itself."""
    token = notification_api().token()
    return json_response({"scope": settings().api_scope, **describe(token)})


@bp.route(route="caller/secret", methods=["GET"])
@debug_only
@answers_problems
def caller_secret(req: func.HttpRequest) -> func.HttpResponse:
    """Proof that Key Vault answered: the secret's name and version. Never its value."""
    secret = webhook_secret()
    secret.get()
    return json_response({"name": secret.name, "version": secret.version})


@bp.timer_trigger(schedule="0 */5 * * * *", arg_name="timer", run_on_startup=False)
def deliver_pending(timer: func.TimerRequest) -> None:
    """Every 5 minutes: deliver what is pending, acknowledge what was delivered."""
    try:
        report = deliver(notification_api(), webhook_secret(), settings().delivery_webhook_url, webhook_session())
    except Problem as exc:  # the API or Key Vault refused or did not answer: the run fails, without the
        # detail, which may quote Entra's text naming a user (the host logs the exception's message)
        raise RuntimeError(f"delivery failed: {exc.status} {exc.reason or exc.title}") from None
    if report.failed:
        log.warning("%d notification(s) stay pending after failed delivery: %s", len(report.failed), report.failed)
