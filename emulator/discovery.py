"""OpenID Connect discovery and signing keys, v1 and v2, as Entra publishes them per tenant."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from . import errors
from .directory import Tenant
from .state import State
from .tokens import TENANT_ID_TEMPLATE

# Entra's multi-tenant aliases: "organizations" (any work account) and "common" (work or personal).
# The Azure CLI signs in through "organizations" when no tenant is given. A user signing in there
# gets a token from their own tenant; app-only requests there are answered by the home tenant.
# "consumers" (personal accounts only) has no user here and stays AADSTS90002.
TENANT_ALIASES = ("organizations", "common")


def path_tenant(request: Request) -> Tenant | None:
    """The tenant the path names (id or domain), None for an alias; anything else is AADSTS90002."""
    state: State = request.app.state.emulator
    segment = request.path_params["tenant"]
    if segment.lower() in TENANT_ALIASES:
        return None
    tenant = state.directory.tenant_at(segment)
    if tenant is None:
        raise errors.tenant_not_found(segment)
    return tenant


def tenant_of(request: Request) -> str:
    """The id of the tenant in the path; an alias answers as the home tenant."""
    state: State = request.app.state.emulator
    tenant = path_tenant(request)
    return (tenant or state.directory.home).tenant_id


def _path_tenant(request: Request) -> tuple[str, bool]:
    """The tenant segment for the endpoints of a discovery document, and whether it is an alias.

    Entra answers an alias with endpoints under the alias and an issuer with a ``{tenantid}``
    placeholder (the real issuer is only known once someone signed in); a tenant's own documents
    name the tenant by id, whichever way (id or domain) the path named it.
    """
    tenant = path_tenant(request)
    if tenant is None:
        return request.path_params["tenant"].lower(), True
    return tenant.tenant_id, False


async def openid_configuration_v2(request: Request) -> JSONResponse:
    tenant, alias = _path_tenant(request)
    state: State = request.app.state.emulator
    base = f"{state.config.origin}/{tenant}"
    return JSONResponse(
        {
            "issuer": state.issuer.issuer_of(TENANT_ID_TEMPLATE if alias else tenant, 2),
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "code_challenge_methods_supported": ["S256", "plain"],
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "nonce",
                "preferred_username",
                "name",
                "tid",
                "ver",
                "oid",
            ],
            "tenant_region_scope": "local",
            "cloud_instance_name": "localhost",
        }
    )


async def openid_configuration_v1(request: Request) -> JSONResponse:
    tenant, alias = _path_tenant(request)
    state: State = request.app.state.emulator
    base = f"{state.config.origin}/{tenant}"
    return JSONResponse(
        {
            "issuer": state.issuer.issuer_of(TENANT_ID_TEMPLATE if alias else tenant, 1),
            "authorization_endpoint": f"{base}/oauth2/authorize",
            "token_endpoint": f"{base}/oauth2/token",
            "jwks_uri": f"{base}/discovery/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "tenant_region_scope": "local",
            "cloud_instance_name": "localhost",
        }
    )


async def keys(request: Request) -> JSONResponse:
    """``/{tenant}/discovery/v2.0/keys`` (keys with a templated ``issuer``) and ``/{tenant}/discovery/keys`` (none)."""
    path_tenant(request)
    state: State = request.app.state.emulator
    state.activity.count("jwks:fetch")  # validators should fetch once and cache (bench/auth_validation.py)
    version = 2 if "/v2.0/" in request.url.path else 1
    return JSONResponse(state.issuer.jwks(version), headers={"Cache-Control": "max-age=86400, private"})


async def user_realm(request: Request) -> JSONResponse:
    """MSAL asks this before a username/password sign-in; every local user is "Managed" (cloud-only)."""
    state: State = request.app.state.emulator
    user = state.directory.find_user_anywhere(request.path_params["username"])
    tenant = state.directory.tenant_of(user) if user else state.directory.home
    return JSONResponse(
        {
            "ver": "1.0",
            "account_type": "Managed",
            "domain_name": tenant.domain,
            "cloud_instance_name": "localhost",
            "cloud_audience_urn": "urn:federation:MicrosoftOnline",
        }
    )
