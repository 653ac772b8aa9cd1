"""On-behalf-of proxy blueprint: calls the notification API, and Azure Resource Manager for the
support portal, as the signed-in user.

The proxy has no permissions of its own. A request carries the user's token for the proxy
(scope ``access_as_user``); the proxy exchanges it for the user's token to the API (or to ARM); the
API (or ARM, with the user's Azure RBAC) then decides with the *user's* roles. One request, step by
step: docs/on-behalf-of.md; the portal: docs/support-portal.md.
"""

from __future__ import annotations

import functools
import logging
from urllib.parse import urlencode

import azure.functions as func
import requests
from azure.core.exceptions import AzureError

from auth import Authorizer, Principal, bearer_token, principal_of
from outbound import BearerClient, retrying_session
from web import Problem, answers_problems, bodies, json_response, problems

from . import openapi
from .exchange import OboFailure, OnBehalfOf
from .portal import ARM_SCOPE, GROUP_NAME, SITE_NAME, Portal
from .settings import ProxySettings

log = logging.getLogger(__name__)
bp = func.Blueprint()
USER_SCOPE = "access_as_user"


@functools.cache
def settings() -> ProxySettings:
    """Read once: function_app.py calls this at start, so a missing setting stops the host there."""
    return ProxySettings.from_env()


proxy = Authorizer(lambda: settings().auth)
OPENAPI = openapi.part(USER_SCOPE, lambda: settings().auth)  # this blueprint's routes in /api/openapi.json


@functools.cache
def on_behalf_of() -> OnBehalfOf:
    return OnBehalfOf.from_settings(settings())  # one confidential client (and token cache) per process


@functools.cache
def api_session() -> requests.Session:
    return retrying_session()


def as_user(req: func.HttpRequest, base_url: str, scope: str, service: str) -> BearerClient:
    """A client for ``base_url`` (``service``) whose tokens for ``scope`` are the caller's own, by
    exchange of their token. The exchange's failures are raised as what our client hears."""
    user, user_token = principal_of(req), bearer_token(req)
    if user_token is None:  # principal_of() passed, so the guard validated a bearer token
        raise RuntimeError("as_user() outside a guarded handler")
    account = f"{user.object_id}.{user.tenant_id}"

    def token(fresh: bool) -> str:
        try:
            return on_behalf_of().token(user_token, account, scope, fresh)
        except OboFailure as failure:
            raise exchange_failed(failure, user, scope, service) from failure
        except (requests.RequestException, AzureError) as exc:  # token endpoint or identity endpoint down
            reason = f"on-behalf-of unavailable: {type(exc).__name__}"
            raise problems.unavailable("The sign-in service is unavailable; retry later.", reason=reason) from exc

    return BearerClient(base_url, token, api_session(), service=service)


def api_as_user(req: func.HttpRequest) -> BearerClient:
    """The notification API, as the caller."""
    return as_user(req, settings().api_url, settings().api_scope, "notification API")


def portal_as_user(req: func.HttpRequest) -> Portal:
    """Azure Resource Manager, as the caller: their Azure RBAC decides, never the proxy's."""
    arm = as_user(req, settings().resource_manager_url, ARM_SCOPE, "Azure Resource Manager")
    return Portal(arm, settings().portal_subscription_id)


# MSAL answers an identical refused token request from memory for 60 s (its HTTP cache keeps 400s),
# so after an admin fixes consent or assignment, the same user token keeps failing for a minute.
AFTER_THE_FIX = "After the fix, sign in again for a new token, or retry in a minute."


def consent_challenge(tenant_id: str, scope: str, service: str) -> Problem:
    """403 with what a front end needs to ask the user (or an admin) of ``tenant_id`` for consent (AADSTS65001)."""
    config = settings()
    client_id = config.client_id
    authority = f"{config.auth.authority_host}/{tenant_id or config.auth.tenant_id}"
    consent_uri = f"{authority}/oauth2/v2.0/authorize?" + urlencode(
        {"client_id": client_id, "response_type": "code", "scope": scope, "prompt": "consent"}
    )
    detail = (
        f"Nobody has consented to this proxy calling the {service} for you (AADSTS65001). Ask for consent with the "
        "consentUri, or have an admin grant it (or, for our own API, pre-authorize the proxy). " + AFTER_THE_FIX
    )
    challenge = problems.bearer_challenge(
        error="insufficient_scope",
        error_description="consent required",
        client_id=client_id,
        consent_uri=consent_uri,
        scope=scope,
    )
    return Problem(
        403,
        detail,
        title="Consent required",
        headers={"WWW-Authenticate": challenge},
        clientId=client_id,
        scopes=[scope],
        consentUri=consent_uri,
    )


def exchange_failed(failure: OboFailure, caller: Principal, scope: str, service: str) -> Problem:
    """Each AADSTS outcome of the exchange, as what happened and what fixes it.

    The log names the code and the caller's ids, never Entra's text: that names the user (AADSTS50105
    quotes the UPN), and user names stay out of logs.
    """
    log.warning(
        "on-behalf-of refused: AADSTS%s %s for oid=%s tid=%s",
        failure.code,
        failure.error,
        caller.object_id,
        caller.tenant_id,
    )
    if failure.code == 65001:
        return consent_challenge(failure.tenant_id, scope, service)
    if failure.code == 50105:
        return Problem(
            403,
            f"You are not assigned to the {service} (AADSTS50105). An admin must "
            f"assign you, or a group you are in, an app role on it. {AFTER_THE_FIX}",
            title="Not assigned",
        )
    if failure.code in (50013, 500131, 500133, 50027):
        return problems.unauthorized(
            f"The token could not be exchanged (AADSTS{failure.code}). Sign in again and send a token for this proxy."
        )
    if failure.error == "temporarily_unavailable" or (failure.code or 0) >= 90000 and failure.error == "server_error":
        return problems.unavailable("The identity provider is unavailable; retry later.")
    return Problem(502, f"The on-behalf-of exchange failed: {failure.description}", title="Exchange failed")


@bp.route(route="obo/notifications", methods=["GET"])
@proxy.requires(scope=USER_SCOPE)
@answers_problems
def obo_list(req: func.HttpRequest) -> func.HttpResponse:
    """The signed-in user's notifications, fetched as the user."""
    api = api_as_user(req)
    params = {k: v for k, v in req.params.items() if k in ("status", "top", "pageToken")}
    return json_response(api.json("GET", "/notifications", params=params))


@bp.route(route="obo/notifications", methods=["POST"])
@proxy.requires(scope=USER_SCOPE)
@answers_problems
def obo_create(req: func.HttpRequest) -> func.HttpResponse:
    """Create a notification as the signed-in user (needs their notification.create role)."""
    body = bodies.json_object(req)  # the API checks the fields; the proxy refuses what it cannot forward
    api = api_as_user(req)
    # The client's own key, so its retries are de-duplicated too; without one the bearer client makes one.
    key = req.headers.get("Idempotency-Key")
    created = api.json("POST", "/notifications", json=body, headers={"Idempotency-Key": key} if key else None)
    # The notification lives on the API, wherever it is deployed; the proxy has no such route.
    return json_response(created, 201, {"Location": f"{settings().api_url}/notifications/{created['id']}"})


# -- the support portal: Azure Resource Manager as the signed-in user ------------------------------


@bp.route(route="portal/sites", methods=["GET"])
@proxy.requires(scope=USER_SCOPE)
@answers_problems
def portal_sites(req: func.HttpRequest) -> func.HttpResponse:
    """The function apps the signed-in user may read, with state and whether they may restart each."""
    portal = portal_as_user(req)
    user = principal_of(req)
    return json_response(
        {"subscriptionId": portal.subscription_id, "user": user.username or user.object_id, "sites": portal.sites()}
    )


@bp.route(route="portal/sites/{resourceGroup}/{name}/restart", methods=["POST"])
@proxy.requires(scope=USER_SCOPE)
@answers_problems
def portal_restart(req: func.HttpRequest) -> func.HttpResponse:
    """Restart one function app as the signed-in user (their Azure role decides; the activity log names them)."""
    group, name = req.route_params.get("resourceGroup", ""), req.route_params.get("name", "")
    errors = [
        {"pointer": f"/path/{field}", "detail": f"not a valid {what} name"}
        for field, value, pattern, what in (
            ("resourceGroup", group, GROUP_NAME, "resource group"),
            ("name", name, SITE_NAME, "function app"),
        )
        if not pattern.fullmatch(value)
    ]
    if errors:
        raise Problem(400, "The resource group or function app name is not one Azure accepts.", errors=errors)
    portal = portal_as_user(req)
    portal.restart(group, name)
    user = principal_of(req)
    return json_response(
        {"id": portal.site_id(group, name), "resourceGroup": group, "name": name, "result": "Restarted",
         "by": user.username or user.object_id}
    )  # fmt: skip


@bp.route(route="portal/activity", methods=["GET"])
@proxy.requires(scope=USER_SCOPE)
@answers_problems
def portal_activity(req: func.HttpRequest) -> func.HttpResponse:
    """Recent restarts, stops and starts of function apps (last 7 days): who, what, when, the result."""
    return json_response({"items": portal_as_user(req).recent_restarts()})
