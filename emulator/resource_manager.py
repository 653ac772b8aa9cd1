"""A tiny Azure Resource Manager: what ``az login`` reads after it has a token.

After every sign-in the Azure CLI lists tenants (``GET /tenants``) and subscriptions
(``GET /subscriptions``, or ``/subscriptions/{id}``) with a token for the ARM audience; a 404
here breaks even ``--allow-no-subscriptions``. ``GET /metadata/endpoints`` describes this local
cloud, so ``az cloud register --endpoint-resource-manager`` discovers the rest. Nothing else of
ARM exists here: any other path is a 404.

Like ARM, every call but the metadata needs a valid bearer token for the ARM audience, issued
by this tenant; failures are ARM's 401s (``AuthenticationFailed``, ``InvalidAuthenticationToken``...).
"""

from __future__ import annotations

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse

from .directory import LOCAL_SUBSCRIPTION, RESOURCE_MANAGER
from .state import State

SUBSCRIPTION_NAME = "Local emulator subscription"


def _audiences() -> set[str]:
    uris = {u.rstrip("/").lower() for u in RESOURCE_MANAGER.identifier_uris}
    return {RESOURCE_MANAGER.app_id, *uris, *(f"{u}/" for u in uris)}


class ArmError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _error(state: State, exc: ArmError) -> JSONResponse:
    headers = {}
    if exc.status == 401:
        headers["WWW-Authenticate"] = (
            f'Bearer authorization_uri="{state.config.origin}/", error="invalid_token", '
            f'error_description="{exc.message}"'
        )
    return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, status_code=exc.status, headers=headers)


def _authenticate(request: Request, state: State) -> dict:
    if not request.query_params.get("api-version"):
        raise ArmError(
            400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required."
        )
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("bearer "):
        raise ArmError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
    try:
        claims = state.issuer.verify(auth[7:].strip())
    except jwt.ExpiredSignatureError:
        raise ArmError(401, "ExpiredAuthenticationToken", "The access token expiry UTC time is in the past.") from None
    except jwt.InvalidTokenError:
        raise ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.") from None
    if claims.get("iss") not in (state.issuer.issuer_v1, state.issuer.issuer_v2):
        raise ArmError(401, "InvalidAuthenticationTokenTenant", "The access token is from the wrong issuer.")
    if str(claims.get("aud", "")).lower() not in _audiences():
        raise ArmError(
            401,
            "InvalidAuthenticationTokenAudience",
            f"The access token has been obtained for wrong audience or resource '{claims.get('aud')}'. It should "
            f"exactly match one of the allowed audiences: {', '.join(RESOURCE_MANAGER.identifier_uris)}.",
        )
    return claims


def _tenant(state: State) -> dict:
    tid, domain = state.directory.tenant_id, state.directory.tenant_domain
    return {
        "id": f"/tenants/{tid}",
        "tenantId": tid,
        "countryCode": "US",
        "displayName": domain.split(".")[0].capitalize() if domain else "Local tenant",
        "domains": [domain] if domain else [],
        "defaultDomain": domain,
        "tenantCategory": "Home",
        "tenantType": "AAD",
    }


def _subscription(state: State) -> dict:
    return {
        "id": f"/subscriptions/{LOCAL_SUBSCRIPTION}",
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "subscriptionId": LOCAL_SUBSCRIPTION,
        "tenantId": state.directory.tenant_id,
        "displayName": SUBSCRIPTION_NAME,
        "state": "Enabled",
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "Internal_2014-09-01",
            "spendingLimit": "Off",
        },
    }


async def tenants(request: Request) -> JSONResponse:
    state: State = request.app.state.emulator
    try:
        _authenticate(request, state)
    except ArmError as exc:
        return _error(state, exc)
    return JSONResponse({"value": [_tenant(state)]})


async def subscriptions(request: Request) -> JSONResponse:
    state: State = request.app.state.emulator
    try:
        _authenticate(request, state)
        wanted = request.path_params.get("subscription_id")
        if wanted is not None and wanted.lower() != LOCAL_SUBSCRIPTION:
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{wanted}' could not be found.")
    except ArmError as exc:
        return _error(state, exc)
    return JSONResponse(_subscription(state) if wanted is not None else {"value": [_subscription(state)]})


async def metadata_endpoints(request: Request) -> JSONResponse:
    """The cloud's description (``api-version=2022-09-01`` shape), read by ``az cloud register``."""
    state: State = request.app.state.emulator
    origin = state.config.origin
    return JSONResponse(
        {
            "name": "LocalEmulator",
            "resourceManager": f"{origin}/",
            "authentication": {
                "loginEndpoint": origin,
                "audiences": list(RESOURCE_MANAGER.identifier_uris),
                "tenant": "organizations",
                "identityProvider": "AAD",
            },
            "portal": f"{origin}/",
            "microsoftGraphResourceId": "https://graph.microsoft.com/",
            "suffixes": {"keyVaultDns": "vault.azure.net", "storage": "core.windows.net"},
        }
    )
