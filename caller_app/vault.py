"""The webhook signing secret from Key Vault, read with the app's own identity and cached.

A cache with a TTL keeps Key Vault off the hot path and lets a rotated secret arrive within
minutes. If a refresh fails, the last good value stays in use (a short Key Vault outage must not
stop deliveries); only a secret never read at all is an error.
"""

from __future__ import annotations

import logging
import threading
import time

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, HttpResponseError
from azure.keyvault.secrets import SecretClient

from web import Problem, problems

log = logging.getLogger(__name__)

TTL = 300


class SecretUnavailable(Problem):
    """Key Vault could not be read and no earlier value exists (503)."""

    def __init__(self, detail: str) -> None:
        super().__init__(503, detail, headers=problems.RETRY_LATER)


class SecretForbidden(Problem):
    """Key Vault refused this identity (403): it needs "Key Vault Secrets User" on the vault."""

    def __init__(self, refusal: str) -> None:
        super().__init__(
            403,
            f"Key Vault refused this app's identity: {refusal}",
            fix=[
                "Assign 'Key Vault Secrets User' on the vault to this identity (secretsUsers in directory.json "
                "locally; infra/ in Azure)."
            ],
        )


def secret_client(credential: TokenCredential, vault_url: str, verify_challenge_resource: bool) -> SecretClient:
    # verify_challenge_resource checks that the vault's challenge names *.vault.azure.net; only the
    # local emulator (on localhost) needs it off, and only the local settings turn it off.
    return SecretClient(
        vault_url,
        credential,
        verify_challenge_resource=verify_challenge_resource,
        retry_total=1,
        connection_timeout=3,
        read_timeout=5,
    )


class CachedSecret:
    def __init__(self, client: SecretClient, name: str, ttl: float = TTL) -> None:
        self.client, self.name, self.ttl = client, name, ttl
        self.value: str | None = None
        self.version: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def get(self) -> str:
        with self._lock:
            if self.value is not None and time.monotonic() < self._expires:
                return self.value
            try:
                secret = self.client.get_secret(self.name)
            except HttpResponseError as exc:
                if exc.status_code == 403:
                    raise SecretForbidden(str(exc).splitlines()[0]) from exc
                return self._keep_last(exc)
            except AzureError as exc:  # connection refused, timeout, credential failure
                return self._keep_last(exc)
            if secret.value is None:  # Key Vault always returns a value for a secret read by name
                return self._keep_last(ValueError("Key Vault returned the secret without a value"))
            self.value, self.version = secret.value, secret.properties.version
            self._expires = time.monotonic() + self.ttl
            return self.value

    def _keep_last(self, exc: Exception) -> str:
        if self.value is None:
            raise SecretUnavailable(f"cannot read secret {self.name!r}: {str(exc).splitlines()[0]}") from exc
        log.warning("refreshing secret %r failed (%s); keeping the last good value", self.name, type(exc).__name__)
        self._expires = time.monotonic() + min(self.ttl, 30)  # try again soon, not on every call
        return self.value
