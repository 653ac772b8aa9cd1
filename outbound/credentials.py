"""The one credential an app uses for everything it calls (the API, Key Vault, storage).

Create it once per process and keep it: azure-identity caches tokens per credential *instance*,
so a credential made per request asks the managed identity endpoint every time (slow, and
throttled in Azure). Three modes, the same code:

- Azure and the local emulator: ``ManagedIdentityCredential`` (system-assigned, or the
  user-assigned identity whose client id is given / in ``AZURE_CLIENT_ID``);
- a developer against a real tenant: ``AZURE_TOKEN_CREDENTIALS=dev`` selects the developer chain
  of ``DefaultAzureCredential`` (Azure CLI, azd, VS Code...), so your own sign-in and your own
  role assignments are used, with no secret.
"""

from __future__ import annotations

from azure.core.credentials import TokenCredential
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

from appsettings import developer_credentials


def build_credential(client_id: str | None = None) -> TokenCredential:
    if developer_credentials():  # AZURE_TOKEN_CREDENTIALS=dev (appsettings reads and checks it)
        return DefaultAzureCredential()  # reads AZURE_TOKEN_CREDENTIALS=dev itself: developer tools only
    return ManagedIdentityCredential(client_id=client_id or None)
