"""On-behalf-of: trade the signed-in user's token for a token to the API, as that same user.

One MSAL confidential client per process, with one token cache. MSAL for Python does not look in
its cache during ``acquire_token_on_behalf_of`` (it always calls Entra); its documented pattern
is ``acquire_token_silent`` for the user's account first, then the exchange. The account is the
user of the incoming token, which the proxy has already validated (signature, audience, scope),
so a cached token is only ever handed to a request that proves it comes from that same user.

The proxy proves who it is without a secret: a token of its user-assigned managed identity for
``api://AzureADTokenExchange`` is the client assertion, and the app registration trusts that
identity through a federated identity credential. ``OBO_CLIENT_SECRET`` is a fallback for
places with no managed identity; prefer the federated credential everywhere else.
"""

from __future__ import annotations

import logging
import os

import msal

from auth.credentials import build_credential
from auth.http import retrying_session

log = logging.getLogger(__name__)
TOKEN_EXCHANGE_SCOPE = "api://AzureADTokenExchange/.default"


class OboFailure(Exception):
    """Entra refused the exchange; ``code`` is the first AADSTS number."""

    def __init__(self, result: dict) -> None:
        self.error = result.get("error", "")
        self.codes = result.get("error_codes") or []
        self.code = self.codes[0] if self.codes else None
        self.description = (result.get("error_description") or "").split(" Trace ID:")[0]
        super().__init__(self.description or self.error)


def client_credential() -> dict | str:
    """How the proxy authenticates to Entra: its managed identity (federated), or a secret."""
    identity_client_id = os.environ.get("OBO_MANAGED_IDENTITY_CLIENT_ID", "").strip()
    if identity_client_id:
        identity = build_credential(identity_client_id)  # once per process: its cache holds the assertion
        # MSAL calls this for every token request; the identity's token is cached for hours.
        return {"client_assertion": lambda: identity.get_token(TOKEN_EXCHANGE_SCOPE).token}
    secret = os.environ.get("OBO_CLIENT_SECRET", "").strip()
    if secret:
        log.warning("on-behalf-of uses OBO_CLIENT_SECRET; a federated managed identity needs no secret")
        return secret
    raise RuntimeError("set OBO_MANAGED_IDENTITY_CLIENT_ID (a user-assigned identity the app registration "
                       "trusts) or, as a fallback, OBO_CLIENT_SECRET")


class OnBehalfOf:
    def __init__(self, client_id: str, tenant_id: str, authority_host: str, credential: dict | str) -> None:
        self.app = msal.ConfidentialClientApplication(
            client_id, client_credential=credential, authority=f"{authority_host.rstrip('/')}/{tenant_id}",
            # Our authority comes from our own settings; no need to ask the public cloud to vouch for it.
            instance_discovery=False,
            http_client=retrying_session(), timeout=10,
            token_cache=msal.TokenCache(),
        )

    @classmethod
    def from_env(cls) -> OnBehalfOf:
        return cls(os.environ["OBO_CLIENT_ID"], os.environ["AZURE_TENANT_ID"],
                   os.environ.get("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com"), client_credential())

    def token(self, user_assertion: str, home_account_id: str, scope: str, fresh: bool = False) -> str:
        """The user's token for ``scope``: from the cache when it holds one, else one exchange.

        ``home_account_id`` is ``<oid>.<tid>`` of the validated incoming token (MSAL's account key,
        from the exchange's client_info). ``fresh`` skips the cache (once, after the API said 401).
        """
        if not fresh:
            account = next((a for a in self.app.get_accounts() if a.get("home_account_id") == home_account_id), None)
            cached = self.app.acquire_token_silent([scope], account=account) if account else None
            if cached and "access_token" in cached:
                return cached["access_token"]
        result = self.app.acquire_token_on_behalf_of(user_assertion, [scope])
        if "access_token" not in result:
            raise OboFailure(result)
        return result["access_token"]
