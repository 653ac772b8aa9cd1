"""Entra ID's error responses, with the fields and AADSTS codes real clients and people read.

MSAL and azure-identity surface ``error_description`` to the developer, so the text matters:
it starts with the AADSTS code, as Entra's does, and says what to change. Codes and wording
follow https://login.microsoftonline.com/error?code=NNNN (paraphrased, not copied).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from starlette.responses import JSONResponse


class EntraError(Exception):
    """An OAuth error as Entra ID returns it from the token and authorize endpoints."""

    def __init__(self, code: int, error: str, message: str, status: int = 400) -> None:
        super().__init__(f"AADSTS{code}: {message}")
        self.code = code
        self.error = error
        self.message = message
        self.status = status

    def body(self) -> dict:
        trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
        timestamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        return {
            "error": self.error,
            "error_description": (
                f"AADSTS{self.code}: {self.message} Trace ID: {trace_id} "
                f"Correlation ID: {correlation_id} Timestamp: {timestamp}"
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"https://login.microsoftonline.com/error?code={self.code}",
        }

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status)


# Request shape --------------------------------------------------------------------------------


def missing_parameter(name: str) -> EntraError:
    return EntraError(900144, "invalid_request", f"The request body must contain the following parameter: '{name}'.")


def malformed_request(detail: str) -> EntraError:
    return EntraError(9002313, "invalid_request", f"Invalid request. Request is malformed or invalid: {detail}")


def unsupported_grant_type(grant_type: str) -> EntraError:
    return EntraError(70003, "unsupported_grant_type", f"The app requested an unsupported grant type '{grant_type}'.")


def tenant_not_found(tenant: str) -> EntraError:
    return EntraError(
        90002,
        "invalid_tenant",
        f"Tenant '{tenant}' not found. Check that the tenant ID or domain is right and that you are signing "
        "in to the right cloud.",
    )


# Resources and scopes -------------------------------------------------------------------------


def resource_not_found(resource: str, tenant: str) -> EntraError:
    return EntraError(
        500011,
        "invalid_resource",
        f"The resource principal named {resource} was not found in the tenant named {tenant}. The application "
        "may not be registered in this tenant, or the identifier (App ID URI or app id) is misspelled.",
    )


def invalid_scope(scope: str, why: str) -> EntraError:
    return EntraError(
        70011,
        "invalid_scope",
        f"The provided value for the input parameter 'scope' is not valid. {why} Scope: '{scope}'.",
    )


def client_credentials_need_default(scope: str) -> EntraError:
    return EntraError(
        1002012,
        "invalid_scope",
        f"The provided value for scope {scope} is not valid. Client credential flows must have a scope value "
        "with /.default suffixed to the resource identifier (application ID URI).",
    )


# Clients --------------------------------------------------------------------------------------


def application_not_found(client_id: str, tenant: str) -> EntraError:
    return EntraError(
        700016,
        "unauthorized_client",
        f"Application with identifier '{client_id}' was not found in the directory '{tenant}'.",
    )


def invalid_client_secret(app_id: str) -> EntraError:
    return EntraError(
        7000215,
        "invalid_client",
        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
        f"value, not the client secret ID, for a secret added to app '{app_id}'.",
        status=401,
    )


def missing_client_credential() -> EntraError:
    return EntraError(
        7000218,
        "invalid_client",
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        status=401,
    )


def public_client_with_credential() -> EntraError:
    return EntraError(
        700025,
        "invalid_client",
        "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
        status=401,
    )


def client_assertion_invalid(code: int, message: str) -> EntraError:
    """Federated credential failures (700027 signature, 700024 time, 700211/700212/70021 no match)."""
    return EntraError(code, "invalid_client", message, status=401)


# Users, assignment and consent ---------------------------------------------------------------


def user_not_found(username: str, tenant: str) -> EntraError:
    return EntraError(
        50034,
        "invalid_grant",
        f"The user account {username} does not exist in the {tenant} directory. To sign in to this "
        "application, the account must be added to the directory.",
    )


def invalid_password() -> EntraError:
    return EntraError(50126, "invalid_grant", "Error validating credentials due to invalid username or password.")


def user_not_assigned(user_upn: str, resource_name: str, resource_app_id: str) -> EntraError:
    return EntraError(
        50105,
        "invalid_grant",
        f"Your administrator has configured the application {resource_name} ('{resource_app_id}') to block "
        f"users unless they are specifically granted ('assigned') access to the application. The signed in "
        f"user '{user_upn}' is blocked because they are not a direct member of a group with access, nor had "
        "access directly assigned by an administrator. Assign the user (or a group they belong to) an app role "
        "on the application.",
    )


def app_not_assigned(client_app_id: str, client_name: str, resource_app_id: str, resource_name: str) -> EntraError:
    return EntraError(
        501051,
        "invalid_grant",
        f"Application '{client_app_id}'({client_name}) is not assigned to a role for the application "
        f"'{resource_app_id}'({resource_name}). Group membership does not count for service principals: "
        "assign the app role to the service principal itself.",
    )


def consent_required(client_app_id: str, client_name: str, scopes: list[str]) -> EntraError:
    return EntraError(
        65001,
        "invalid_grant",
        f"The user or administrator has not consented to use the application with ID '{client_app_id}' named "
        f"'{client_name}'. Send an interactive authorization request for this user and resource, grant admin "
        f"consent, or pre-authorize the client on the API. Missing: {' '.join(scopes)}.",
    )


# Assertions (on-behalf-of) and grants -------------------------------------------------------


def malformed_jwt(detail: str = "") -> EntraError:
    return EntraError(50027, "invalid_request", f"JWT token is invalid or malformed. {detail}".strip())


def assertion_signature_invalid(reason: str) -> EntraError:
    return EntraError(50013, "invalid_grant", f"Assertion failed signature validation. [Reason - {reason}]")


def assertion_audience_mismatch(audience: str, client_app_id: str, client_name: str) -> EntraError:
    return EntraError(
        500131,
        "invalid_grant",
        f"Assertion audience does not match the Client app presenting the assertion. The audience in the "
        f"assertion was '{audience}' and the expected audience is '{client_app_id}' or one of the Application "
        f"Uris of this application with App ID '{client_app_id}'({client_name}). The downstream client must "
        "request a token for the application that makes the on-behalf-of request.",
    )


def assertion_expired(now: int, exp: int) -> EntraError:
    return EntraError(
        500133,
        "invalid_grant",
        f"Assertion is not within its valid time range. Ensure that the access token is not expired before "
        f"using it for user assertion, or request a new token. Current time: {now}, expiry time of assertion "
        f"{exp}.",
    )


def grant_expired(what: str) -> EntraError:
    return EntraError(70008, "invalid_grant", f"The provided {what} has expired or was revoked. Sign in again.")


def code_already_redeemed() -> EntraError:
    return EntraError(
        54005,
        "invalid_grant",
        "OAuth2 Authorization code was already redeemed, please retry with a "
        "new valid code or use an existing refresh token.",
    )


def pkce_mismatch() -> EntraError:
    return EntraError(
        501481,
        "invalid_grant",
        "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
    )


def redirect_uri_mismatch(redirect_uri: str, client_id: str) -> EntraError:
    return EntraError(
        50011,
        "invalid_request",
        f"The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs "
        f"configured for the application '{client_id}'. Make sure the redirect URI sent in the request matches "
        "one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError "
        "to learn more about how to fix this.",
    )


def no_reply_address(client_id: str) -> EntraError:
    return EntraError(500113, "invalid_request", f"No reply address is registered for the application '{client_id}'.")


def query_too_long(parameter: str, limit: int) -> EntraError:
    # Entra publishes no per-parameter limit; an oversized state or nonce ends in AADSTS90015.
    return EntraError(
        90015, "invalid_request", f"Requested query string is too long: '{parameter}' is over {limit} characters."
    )


def invalid_code_challenge_method(method: str) -> EntraError:
    return EntraError(
        50149, "invalid_request", f"Invalid Code_Challenge_method parameter '{method[:20]}': use S256 or plain."
    )


def invalid_code_challenge_size() -> EntraError:
    return EntraError(
        501491,
        "invalid_request",
        "Invalid size of Code_Challenge parameter. S256 takes 43 base64url characters (a SHA-256 digest); plain "
        "takes the verifier itself, 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636).",
    )


# Tenants and consent ----------------------------------------------------------------------------


def user_of_another_tenant(
    upn: str, home_tenant_id: str, tenant: str, client_app_id: str, client_name: str
) -> EntraError:
    return EntraError(
        50020,
        "invalid_grant",
        f"User account '{upn}' from identity provider 'https://sts.windows.net/{home_tenant_id}/' does not exist "
        f"in tenant '{tenant}' and cannot access the application '{client_app_id}'({client_name}) in that tenant. "
        "The account needs to be added as an external user in the tenant first, or sign in at the user's own "
        "tenant.",
    )


def admin_consent_required(client_app_id: str, client_name: str) -> EntraError:
    return EntraError(
        90094,
        "access_denied",
        f"The grant requires admin permission: only a Global Administrator of the tenant may consent to "
        f"'{client_name}' ('{client_app_id}') for the whole organization.",
        status=403,
    )


def resource_missing_for_consent(resource_app_id: str, resource_name: str, tenant: str) -> EntraError:
    return EntraError(
        650052,
        "invalid_client",
        f"The app is trying to access a service '{resource_app_id}'({resource_name}) that your organization "
        f"'{tenant}' lacks a service principal for. Consent to that application first, or have it list this "
        "client in knownClientApplications so that one consent covers both.",
    )
