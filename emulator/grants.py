"""The token endpoint's decisions, one function per grant type, free of HTTP.

Each grant authenticates the client, resolves the resource from ``scope``, applies Entra's rules
(assignment required, consent, group roles reach users only) and returns the JSON body Entra
would return. Failures raise :class:`~emulator.errors.EntraError`.

Rules are per tenant: the request's tenant (the path's, or for ``organizations``/``common`` the
signed-in user's) must hold a service principal of the API and, for our own client apps, of the
client; roles, consent and "assignment required" are that tenant's. A token is issued by the
tenant of its subject.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import jwt

from . import errors
from .directory import FIRST_PARTY_CLIENTS, TOKEN_EXCHANGE, Application, Principal, Resource, Tenant
from .state import State
from .tokens import ACCESS_TOKEN_LIFETIME

# RFC 7636 §4.1: 43-128 characters of A-Z a-z 0-9 - . _ ~
PKCE_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
OIDC_SCOPES = {"openid", "profile", "offline_access", "email"}
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
Form = Mapping[str, str]


def required(form: Form, name: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise errors.missing_parameter(name)
    return value


# -- clients -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Client:
    app_id: str
    name: str
    acr: str  # appidacr/azpacr: "0" public client, "1" secret, "2" certificate or assertion
    method: str  # "none" | "secret" | "federated"
    application: Application | None = None


def authenticate_client(state: State, form: Form, tenant: Tenant | None = None) -> Client:
    """Who is calling: a first-party public client, or one of our apps proving itself.

    A confidential client proves itself with a secret or, secretless, with a federated
    credential: a managed identity's token for ``api://AzureADTokenExchange``. A single-tenant
    app does not exist outside its home tenant (AADSTS700016); whether a multi-tenant app was
    consented in ``tenant`` is each grant's question.
    """
    client_id = required(form, "client_id")
    secret, assertion = form.get("client_secret"), form.get("client_assertion")
    if client_id.lower() in FIRST_PARTY_CLIENTS:
        if secret or assertion:
            raise errors.public_client_with_credential()
        return Client(client_id, FIRST_PARTY_CLIENTS[client_id.lower()], "0", "none")
    app = state.directory.application(client_id)
    where = tenant or state.directory.home
    if app is None or not (where.home or app.multi_tenant):
        raise errors.application_not_found(client_id, where.tenant_id)
    if secret:
        if not state.client_secrets.verify(app.app_id, secret):
            raise errors.invalid_client_secret(app.app_id)
        state.activity.count(f"client_auth:secret:{app.name}")
        return Client(app.app_id, app.display_name, "1", "secret", app)
    if assertion:
        if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
            raise errors.malformed_request(f"client_assertion_type must be '{CLIENT_ASSERTION_TYPE}'.")
        identity = _verify_federated_assertion(state, app, assertion)
        state.activity.count(f"client_auth:federated:{identity}")
        return Client(app.app_id, app.display_name, "2", "federated", app)
    raise errors.missing_client_credential()


def _verify_federated_assertion(state: State, app: Application, assertion: str) -> str:
    """Check a managed identity token presented as a client assertion; return the identity's name."""
    try:
        claims = state.issuer.verify(assertion)
    except jwt.ExpiredSignatureError:
        raise errors.client_assertion_invalid(700024, "Client assertion is not within its valid time range.") from None
    except jwt.InvalidSignatureError:
        raise errors.client_assertion_invalid(700027, "Client assertion failed signature validation.") from None
    except jwt.InvalidTokenError as exc:
        raise errors.malformed_jwt(f"The client assertion could not be read ({exc}).") from None
    # Claims of any JSON type reach here (the key signed them): only strings can match.
    issuer, subject, audience = (claims.get(name) for name in ("iss", "sub", "aud"))
    issuer, subject = str(issuer)[:200], str(subject) if isinstance(subject, str) else ""
    audience = audience if isinstance(audience, str) else str(audience)[:200]
    if issuer != state.issuer.issuer_v2:
        raise errors.client_assertion_invalid(
            700211, f"No matching federated identity record found for presented assertion issuer '{issuer}'."
        )
    if audience.lower() not in (TOKEN_EXCHANGE.app_id, TOKEN_EXCHANGE.identifier_uris[0].lower()):
        raise errors.client_assertion_invalid(
            700212,
            f"No matching federated identity record found for presented assertion audience '{audience}'. "
            "The managed identity must request a token for api://AzureADTokenExchange.",
        )
    for name in app.federated_identities:
        if state.directory.principal(name).object_id.lower() == subject.lower():
            return name
    raise errors.EntraError(
        70021,
        "invalid_request",
        f"No matching federated identity record found for presented assertion. Assertion Issuer: '{issuer}'. "
        f"Assertion Subject: '{subject}'. Assertion Audience: '{audience}'. Add a federated identity credential "
        f"for this managed identity to the app registration '{app.name}'.",
    )


# -- scopes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScopeRequest:
    resource: Resource
    identifier: str  # the resource as the client wrote it
    names: tuple[str, ...] | None  # requested scope names; None for ".default"
    oidc: frozenset[str]
    raw: tuple[str, ...]  # resource scopes exactly as requested

    @property
    def audience(self) -> str:
        return self.resource.audience_for(self.identifier)


def parse_scope(state: State, scope_param: str, tenant: Tenant | None = None) -> ScopeRequest:
    """Split ``api://x/a api://x/b openid`` into one resource, its scope names and OIDC scopes.

    The resource is looked up among the app registrations: a single-tenant app is known only in
    its home tenant. Whether its service principal exists in ``tenant`` is checked when the token
    is decided (app-only and delegated requests fail differently).
    """
    where = tenant or state.directory.home
    parts = scope_param.split()
    oidc = frozenset(p for p in parts if p.lower() in OIDC_SCOPES)
    raw = tuple(p for p in parts if p.lower() not in OIDC_SCOPES)
    if not raw:  # only OpenID scopes: Entra returns a Microsoft Graph token
        raw = ("https://graph.microsoft.com/User.Read",)
    identifiers, names = set(), []
    for scope in raw:
        identifier, _, name = scope.rpartition("/")
        if not identifier:  # a bare name such as "User.Read" is a Microsoft Graph scope
            identifier, name = "https://graph.microsoft.com", scope
        identifiers.add(identifier.rstrip("/"))
        names.append(name)
    if len({i.lower() for i in identifiers}) > 1:
        raise errors.EntraError(
            28000,
            "invalid_scope",
            "Provided value for the input parameter scope is not valid "
            "because it contains more than one resource. Request one resource per token.",
        )
    identifier = identifiers.pop()
    resource = state.directory.find_resource(identifier)
    if resource is None or not (resource.first_party or resource.multi_tenant or where.home):
        raise errors.resource_not_found(identifier, where.tenant_id)
    if ".default" in names:
        if len(names) > 1:
            raise errors.invalid_scope(
                scope_param, "'.default' cannot be combined with other scopes of the same resource."
            )
        return ScopeRequest(resource, identifier, None, oidc, raw)
    return ScopeRequest(resource, identifier, tuple(names), oidc, raw)


# -- tokens ------------------------------------------------------------------------------------


def app_token(
    state: State, principal: Principal, request: ScopeRequest, acr: str, lifetime: int = ACCESS_TOKEN_LIFETIME
) -> tuple[str, dict]:
    """An app-only token for a service principal or managed identity (client credentials, MSI),
    issued by the principal's tenant with the roles assigned there.

    Nobody can consent in an app-only flow: an API without a service principal in the tenant is
    AADSTS500011 (the tenant's admin must consent first).
    """
    resource = request.resource
    tenant = state.directory.tenant_of(principal)
    if request.names is not None:
        raise errors.client_credentials_need_default(" ".join(request.raw))
    if not tenant.has_service_principal(resource):
        raise errors.resource_not_found(request.identifier, tenant.tenant_id)
    if tenant.assignment_required(resource) and not tenant.is_assigned(principal, resource):
        raise errors.app_not_assigned(
            principal.app_id or principal.object_id, principal.display_name, resource.app_id, resource.display_name
        )
    claims = state.issuer.app_token_claims(
        subject=principal,
        resource=resource,
        audience=request.audience,
        roles=tenant.roles(principal, resource),
        client_auth=acr,
        lifetime=lifetime,
    )
    return state.issuer.sign(claims), claims


def member_tenant(state: State, tenant: Tenant | None, user: Principal, client: Client) -> Tenant:
    """The tenant a user's token comes from: the requested one, which must be the user's own
    (AADSTS50020: no guests here), or the user's own for ``organizations``/``common``."""
    home = state.directory.tenant_of(user)
    if tenant is not None and tenant is not home:
        raise errors.user_of_another_tenant(
            user.upn or user.name, home.tenant_id, tenant.tenant_id, client.app_id, client.name
        )
    return home


def delegated_scopes(state: State, client: Client, user: Principal, request: ScopeRequest) -> list[str]:
    """Entra's order, in the user's tenant: the client and the API must exist there (a multi-tenant
    app not consented yet: AADSTS65001), the user must be allowed into the API (assignment
    required, except for a Global Administrator), then the client needs consent for the scopes."""
    resource = request.resource
    tenant = state.directory.tenant_of(user)
    client_app = client.application
    if client_app is not None and tenant.service_principal_of(client_app) is None:
        raise errors.consent_required(client.app_id, client.name, [f"{request.identifier}/.default"])
    if not tenant.has_service_principal(resource):
        if not resource.multi_tenant:
            raise errors.resource_not_found(request.identifier, tenant.tenant_id)
        raise errors.consent_required(client.app_id, client.name, [f"{request.identifier}/.default"])
    if (
        tenant.assignment_required(resource)
        and not tenant.is_global_administrator(user)
        and not tenant.is_assigned(user, resource)
    ):
        raise errors.user_not_assigned(user.upn or user.name, resource.display_name, resource.app_id)
    consented = tenant.consented_scopes(client.app_id, resource)
    if request.names is None:
        if not consented:
            raise errors.consent_required(client.app_id, client.name, [f"{request.identifier}/.default"])
        return sorted(consented)
    registered = {s.lower(): s for s in resource.scopes}
    unknown = [n for n in request.names if n.lower() not in registered]
    if unknown:
        raise errors.invalid_scope(
            " ".join(request.raw), f"The scope(s) {', '.join(unknown)} do not exist on {resource.display_name}."
        )
    scopes = [registered[n.lower()] for n in request.names]
    missing = [s for s in scopes if s not in consented]
    if missing:
        raise errors.consent_required(client.app_id, client.name, [f"{request.identifier}/{s}" for s in missing])
    return scopes


def user_token_response(
    state: State,
    client: Client,
    user: Principal,
    request: ScopeRequest,
    nonce: str | None = None,
    client_info: bool = False,
) -> dict:
    """Access token for a user, plus what MSAL needs to cache it (id_token, client_info, refresh_token)."""
    scopes = delegated_scopes(state, client, user, request)
    claims = state.issuer.user_token_claims(
        user=user,
        resource=request.resource,
        audience=request.audience,
        client_app_id=client.app_id,
        client_auth=client.acr,
        scopes=scopes,
        roles=state.directory.tenant_of(user).roles(user, request.resource),
    )
    state.activity.issued("user", claims)
    # The granted scopes, plus what was asked for as it was spelled, so MSAL's cache lookup matches.
    granted = [f"{request.identifier}/{s}" for s in scopes]
    scope_out = list(dict.fromkeys([*request.raw, *granted, *sorted(request.oidc)]))
    body = {
        "token_type": "Bearer",
        "scope": " ".join(scope_out),
        "expires_in": ACCESS_TOKEN_LIFETIME,
        "ext_expires_in": ACCESS_TOKEN_LIFETIME,
        "access_token": state.issuer.sign(claims),
    }
    if "offline_access" in request.oidc:
        body["refresh_token"] = state.refresh_tokens.issue(user.object_id, client.app_id)
    if "openid" in request.oidc:
        body["id_token"] = state.issuer.id_token(user=user, client_app_id=client.app_id, nonce=nonce)
    if client_info:
        body["client_info"] = state.issuer.client_info(user)
    return body


# -- grants ------------------------------------------------------------------------------------


def client_credentials(state: State, form: Form, client: Client, tenant: Tenant | None) -> dict:
    if client.application is None:
        raise errors.EntraError(
            7000232,
            "invalid_client",
            f"{client.name} is a public client: the client "
            "credentials flow needs an app registration with a credential.",
            status=401,
        )
    where = tenant or state.directory.home
    principal = where.service_principal_of(client.application)
    if principal is None:  # a multi-tenant app nobody consented to here
        raise errors.application_not_found(client.app_id, where.tenant_id)
    request = parse_scope(state, required(form, "scope"), where)
    token, claims = app_token(state, principal, request, client.acr)
    state.activity.count("grant:client_credentials")
    state.activity.issued("client_credentials", claims)
    return {
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_LIFETIME,
        "ext_expires_in": ACCESS_TOKEN_LIFETIME,
        "access_token": token,
    }


def password(state: State, form: Form, client: Client, tenant: Tenant | None) -> dict:
    """Resource owner password credentials: local users only, for tests and the token CLI.

    The user signs in at their own tenant (found by UPN, as Entra's home realm discovery does);
    a tenant they are not a member of answers AADSTS50020 after the password checked out.
    """
    username = required(form, "username")
    secret = form.get("password", "")
    user = state.directory.find_user_anywhere(username)
    if user is None:
        where = tenant or state.directory.home
        raise errors.user_not_found(username, where.domain or where.tenant_id)
    if not user.password or not hmac.compare_digest(user.password.encode(), secret.encode()):
        raise errors.invalid_password()
    where = member_tenant(state, tenant, user, client)
    request = parse_scope(state, required(form, "scope"), where)
    state.activity.count("grant:password")
    return user_token_response(state, client, user, request, client_info=form.get("client_info") == "1")


def on_behalf_of(state: State, form: Form, client: Client, tenant: Tenant | None) -> dict:
    """Exchange a user's token for the client (the assertion) for a token to a downstream API.

    The exchange happens in the tenant that issued the assertion (the user's): the request must
    go to that tenant, where the client and the downstream API need service principals.
    """
    app = client.application
    if app is None:
        raise errors.EntraError(7000232, "invalid_client", "On-behalf-of needs a confidential client.", status=401)
    if form.get("requested_token_use") != "on_behalf_of":
        raise errors.malformed_request("requested_token_use must be 'on_behalf_of'.")
    user = _user_from_assertion(state, app, required(form, "assertion"), tenant)
    where = state.directory.tenant_of(user)
    if where.service_principal_of(app) is None:
        raise errors.application_not_found(app.app_id, where.tenant_id)
    request = parse_scope(state, required(form, "scope"), where)
    body = user_token_response(state, client, user, request, client_info=form.get("client_info") == "1")
    state.activity.count("grant:on_behalf_of", f"obo:{app.name}")
    return body


def _user_from_assertion(state: State, app: Application, assertion: str, tenant: Tenant | None) -> Principal:
    try:
        claims = state.issuer.verify(assertion)
    except jwt.ExpiredSignatureError:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
        raise errors.assertion_expired(int(time.time()), int(unverified.get("exp", 0))) from None
    except jwt.InvalidSignatureError:
        raise errors.assertion_signature_invalid("The key was not found or the signature does not match.") from None
    except jwt.InvalidTokenError as exc:
        raise errors.malformed_jwt(f"The assertion could not be read ({exc}).") from None
    # The request's tenant (or, at organizations/common, the one the token names) issued it.
    where = tenant or state.directory.tenant_at(str(claims.get("tid", ""))) or state.directory.home
    if claims.get("iss") not in (
        state.issuer.issuer_of(where.tenant_id, 1),
        state.issuer.issuer_of(where.tenant_id, 2),
    ):
        raise errors.assertion_signature_invalid(f"The issuer '{claims.get('iss')}' is not this tenant's.")
    audience = str(claims.get("aud", ""))
    if audience.lower() not in {app.app_id.lower(), *(u.lower() for u in app.identifier_uris)}:
        raise errors.assertion_audience_mismatch(audience, app.app_id, app.display_name)
    if "scp" not in claims:
        raise errors.malformed_jwt("The assertion is an app-only token; on-behalf-of needs a user's token.")
    user = where.find_by_object_id(str(claims.get("oid", "")))
    if user is None or user.kind != "user":
        raise errors.user_not_found(str(claims.get("oid")), where.tenant_id)
    return user


def refresh_token(state: State, form: Form, client: Client, tenant: Tenant | None) -> dict:
    grant = state.refresh_tokens.get(required(form, "refresh_token"))
    if grant is None:
        raise errors.grant_expired("refresh token")
    if grant.client_id != client.app_id.lower():
        raise errors.EntraError(70000, "invalid_grant", "The refresh token was issued to a different client.")
    user = state.directory.find_by_object_id_anywhere(grant.user_oid)
    if user is None:  # removed from directory.json since the grant was issued
        raise errors.user_not_found(grant.user_oid, (tenant or state.directory.home).tenant_id)
    request = parse_scope(state, required(form, "scope"), member_tenant(state, tenant, user, client))
    state.activity.count("grant:refresh_token")
    return user_token_response(state, client, user, request, client_info=form.get("client_info") == "1")


def authorization_code(state: State, form: Form, client: Client, tenant: Tenant | None) -> dict:
    code = state.codes.get(required(form, "code"))
    if code is None or code.expires < time.time():
        raise errors.grant_expired("authorization code")
    if code.redeemed:
        raise errors.code_already_redeemed()
    if code.client_id.lower() != client.app_id.lower():
        raise errors.EntraError(70000, "invalid_grant", "The authorization code was issued to a different client.")
    # A code survives no failed redemption (RFC 6749 §4.1.2: one use): a wrong redirect URI or
    # verifier burns it, so a stolen code cannot be tried again with other guesses.
    if form.get("redirect_uri", "") != code.redirect_uri:
        code.redeemed = True
        raise errors.redirect_uri_mismatch(form.get("redirect_uri", ""), client.app_id)
    if code.code_challenge is not None:
        verifier = form.get("code_verifier", "")
        if code.code_challenge_method == "S256":
            verifier = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        # Bytes: compare_digest raises TypeError on a non-ASCII str (a verifier or a stored challenge).
        shaped = PKCE_VERIFIER.match(form.get("code_verifier", "")) is not None
        if not shaped or not hmac.compare_digest(verifier.encode(), code.code_challenge.encode()):
            code.redeemed = True
            raise errors.pkce_mismatch()
    code.redeemed = True
    user = state.directory.find_by_object_id_anywhere(code.user_oid)
    if user is None:  # removed from directory.json since the code was issued
        raise errors.user_not_found(code.user_oid, (tenant or state.directory.home).tenant_id)
    request = parse_scope(state, form.get("scope") or code.scope, member_tenant(state, tenant, user, client))
    state.activity.count("grant:authorization_code")
    return user_token_response(
        state, client, user, request, nonce=code.nonce, client_info=form.get("client_info") == "1"
    )


def device_code(state: State, form: Form, client: Client, tenant: Tenant | None) -> dict:
    """The token endpoint's device code grant: pending, expired, or the signed-in user's tokens."""
    code = state.device_codes.get(required(form, "device_code"))
    if code is None or code.redeemed or code.client_id.lower() != client.app_id.lower():
        raise errors.EntraError(70000, "invalid_grant", "The provided value for 'device_code' is not valid.")
    if code.expires < time.time():
        raise errors.EntraError(70019, "expired_token", "Verification code expired. Have the user sign in again.")
    if code.user_oid is None:
        raise errors.EntraError(
            70016,
            "authorization_pending",
            "The provided request has not yet been authorized by the user. The user must input their code.",
        )
    code.redeemed = True
    user = state.directory.find_by_object_id_anywhere(code.user_oid)
    if user is None:  # removed from directory.json since the user signed in
        raise errors.user_not_found(code.user_oid, (tenant or state.directory.home).tenant_id)
    request = parse_scope(state, code.scope, member_tenant(state, tenant, user, client))
    state.activity.count("grant:device_code")
    return user_token_response(state, client, user, request, client_info=form.get("client_info") == "1")


GRANTS: dict[str, Callable[[State, Form, Client, Tenant | None], dict]] = {
    "client_credentials": client_credentials,
    "password": password,
    "urn:ietf:params:oauth:grant-type:jwt-bearer": on_behalf_of,
    "refresh_token": refresh_token,
    "authorization_code": authorization_code,
    "urn:ietf:params:oauth:grant-type:device_code": device_code,
}
