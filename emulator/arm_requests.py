"""What every ARM request goes through before its route: api-version, bearer token, caller, RBAC.

ARM's own answers, in its order: ``MissingApiVersionParameter``; 401 for a missing, unreadable,
expired, foreign or wrong-audience token (with a ``WWW-Authenticate`` challenge, as ARM sends);
the api-version of the resource type; then authorization (403 ``AuthorizationFailed``) *before*
existence (404), which is why ARM's 403 says "or the scope is invalid".

ARM tokens are v1 (``iss https://sts.windows.net/{tid}/``); ARM accepts exactly four audience
spellings, and refuses the Service Management app id as an audience.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse

from .directory import Principal, Tenant
from .state import State

ARM_AUDIENCES = (
    "https://management.core.windows.net/",
    "https://management.core.windows.net",
    "https://management.azure.com/",
    "https://management.azure.com",
)

# api-versions ARM answers, per resource type: the real lists are longer; these are the ones the real
# clients of this suite send (azure-mgmt-web 11, azure-mgmt-resource 26, azure-mgmt-monitor 7, az 2.91)
# and their recent neighbours. Anything else is refused, as ARM refuses an api-version it does not know.
RESOURCES_API_VERSIONS = (
    "2025-04-01", "2025-03-01", "2025-01-01", "2024-11-01", "2024-08-01", "2024-07-01", "2024-03-01",
    "2023-07-01", "2022-12-01", "2022-09-01", "2022-06-01", "2022-05-01", "2022-01-01", "2021-04-01",
    "2021-01-01", "2020-10-01", "2020-06-01", "2020-01-01", "2019-11-01", "2019-10-01", "2019-08-01",
    "2019-06-01", "2019-05-10", "2019-05-01", "2018-05-01", "2018-02-01", "2016-09-01", "2016-06-01",
    "2016-02-01", "2015-11-01", "2015-01-01", "2014-04-01",
)  # fmt: skip
WEB_API_VERSIONS = (
    "2025-05-01", "2025-03-01", "2024-11-01", "2024-04-01", "2023-12-01", "2023-01-01", "2022-09-01",
    "2022-03-01", "2021-03-01", "2021-02-01", "2021-01-15", "2021-01-01", "2020-12-01", "2020-10-01",
    "2020-09-01", "2020-06-01", "2019-08-01", "2018-11-01", "2018-02-01", "2016-08-01",
)  # fmt: skip
AUTHORIZATION_API_VERSIONS = ("2022-05-01-preview", "2022-04-01", "2018-07-01", "2018-01-01-preview", "2015-07-01")
INSIGHTS_EVENTS_API_VERSIONS = ("2017-03-01-preview", "2015-04-01")
LOCATIONS = "westeurope, northeurope, eastus, eastus2, westus2, centralus"


class ArmError(Exception):
    def __init__(self, status: int, code: str, message: str, challenge: str = "") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.challenge = status, code, message, challenge

    def response(self, state: State) -> JSONResponse:
        headers = {}
        if self.status == 401:
            # The description is ours, never the token's text: a claim with a CR/LF copied into a
            # header would break the answer (h11 refuses it: a 500 instead of ARM's 401).
            headers["WWW-Authenticate"] = (
                f'Bearer authorization_uri="{state.config.origin}/", error="invalid_token", '
                f'error_description="{self.challenge or "The access token is invalid."}"'
            )
        return JSONResponse(
            {"error": {"code": self.code, "message": self.message}}, status_code=self.status, headers=headers
        )


@dataclass(frozen=True)
class Caller:
    """Who is calling, as ARM names them: the UPN for a user, the object id for a service principal."""

    claims: dict
    principal: Principal | None  # None: a principal this directory does not know
    object_id: str
    tenant_id: str
    tenant: Tenant

    @property
    def client(self) -> str:
        upn = self.claims.get("upn") or self.claims.get("unique_name")
        return str(upn) if upn and self.claims.get("idtyp") != "app" else self.object_id

    @property
    def activity_name(self) -> str:
        """The activity log's ``caller``: the UPN for users, the app id for applications."""
        if self.claims.get("idtyp") == "app" or not self.claims.get("upn"):
            return str(self.claims.get("appid") or self.claims.get("azp") or self.object_id)
        return str(self.claims["upn"])

    @property
    def display_name(self) -> str:
        return str(self.claims.get("name") or (self.principal.display_name if self.principal else self.client))


def api_version(request: Request) -> str:
    version = request.query_params.get("api-version")
    if not version:
        raise ArmError(
            400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all "
            "requests."
        )  # fmt: skip
    return version


def check_resources_version(version: str) -> None:
    """ARM's own types (tenants, subscriptions, resource groups)."""
    if version not in RESOURCES_API_VERSIONS:
        raise ArmError(
            400,
            "InvalidApiVersionParameter",
            f"The api-version '{version[:40]}' is invalid. The supported versions are "
            f"'{','.join(RESOURCES_API_VERSIONS)}'.",
        )


def check_provider_version(version: str, resource_type: str, supported: tuple[str, ...]) -> None:
    """A resource provider's type: ARM answers an unknown api-version with ``NoRegisteredProviderFound``."""
    if version not in supported:
        raise ArmError(
            400,
            "NoRegisteredProviderFound",
            f"No registered resource provider found for location 'westeurope' and API version '{version[:40]}' for "
            f"type '{resource_type}'. The supported api-versions are '{', '.join(supported)}'. The supported "
            f"locations are '{LOCATIONS}'.",
        )


def _arm_time(epoch: float) -> str:
    """ARM's .NET-style UTC time in its messages: ``1/18/2023 5:10:42 PM``."""
    t = datetime.fromtimestamp(epoch, UTC)
    return f"{t.month}/{t.day}/{t.year} {t.hour % 12 or 12}:{t:%M:%S} {'AM' if t.hour < 12 else 'PM'}"


def authenticate(request: Request, state: State) -> Caller:
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("bearer "):
        raise ArmError(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
            "The authentication failed because of missing 'Authorization' header.",
        )
    token = auth[7:].strip()
    try:
        claims = state.issuer.verify(token)
    except jwt.ExpiredSignatureError:
        expiry = jwt.decode(token, options={"verify_signature": False}).get("exp", 0)
        message = (
            f"The access token expiry UTC time '{_arm_time(float(expiry))}' is earlier than current UTC time "
            f"'{_arm_time(datetime.now(UTC).timestamp())}'."
        )
        raise ArmError(401, "ExpiredAuthenticationToken", message, "The access token has expired.") from None
    except (jwt.InvalidTokenError, ValueError, OverflowError):
        raise ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.") from None
    tenant = _tenant_of(state, claims.get("iss"), claims.get("tid"))
    if tenant is None:
        raise wrong_tenant(state, claims.get("iss"))
    audience = claims.get("aud")
    if not isinstance(audience, str) or audience not in ARM_AUDIENCES:
        allowed = ",".join(f"'{a}'" for a in ARM_AUDIENCES)
        shown = audience if isinstance(audience, str) else repr(audience)
        raise ArmError(
            401,
            "InvalidAuthenticationTokenAudience",
            f"The access token has been obtained for wrong audience or resource '{shown[:200]}'. It should exactly "
            f"match with one of the allowed audiences {allowed}.",
            "The access token has been obtained for wrong audience or resource.",
        )
    object_id = str(claims.get("oid", ""))
    principal = tenant.find_by_object_id(object_id) if object_id else None
    return Caller(claims, principal, object_id, tenant.tenant_id, tenant)


def _tenant_of(state: State, issuer: object, tid: object) -> Tenant | None:
    """The tenant whose v1 (or v2) issuer signed the token, when ``tid`` agrees: ARM takes any tenant's
    token, and each subscription then only its own tenant's."""
    for tenant in state.directory.tenants.values():
        if tid == tenant.tenant_id and issuer in tuple(state.issuer.issuer_of(tenant.tenant_id, v) for v in (1, 2)):
            return tenant
    return None


def wrong_tenant(state: State, issuer: object) -> ArmError:
    """401 ``InvalidAuthenticationTokenTenant``: a token of another tenant than the subscription's."""
    home = state.directory.tenant_id
    return ArmError(
        401,
        "InvalidAuthenticationTokenTenant",
        f"The access token is from the wrong issuer '{str(issuer)[:200]}'. It must match the tenant "
        f"'{state.issuer.issuer_of(home, 1)}' associated with this subscription. Please use the authority (URL) "
        f"'{state.config.origin}/{home}' to get the token.",
        "The access token is from the wrong issuer.",
    )


def check_tenant(state: State, caller: Caller, subscription_tenant: str) -> None:
    """A subscription answers only tokens of its own tenant (guests sign in to that tenant)."""
    if caller.tenant_id != subscription_tenant:
        raise wrong_tenant(state, caller.claims.get("iss"))


def authorize(state: State, caller: Caller, action: str, scope: str) -> None:
    """403 ``AuthorizationFailed`` unless the caller's role assignments grant ``action`` at ``scope``."""
    if not state.directory.azure.allowed(caller.principal, action, scope):
        raise authorization_failed(caller, action, scope)


def authorization_failed(caller: Caller, action: str, scope: str) -> ArmError:
    return ArmError(
        403,
        "AuthorizationFailed",
        f"The client '{caller.client}' with object id '{caller.object_id}' does not have authorization to perform "
        f"action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please "
        "refresh your credentials.",
    )
