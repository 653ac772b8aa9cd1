"""``credential_tokens``: the token provider the caller's bearer client uses, with real credentials.

After a 401 the bearer client asks for a fresh token. A managed identity credential caches tokens in
the process, so "fresh" must reach the endpoint again; the developer credential (the Azure CLI) has
no such cache and refuses claims challenges, so "fresh" must not send one (tests/azure_cli).
"""

from __future__ import annotations

from azure.identity import ManagedIdentityCredential

from outbound import credential_tokens
from tests.emulator_process import EmulatorProcess

API = "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/.default"


def test_a_fresh_token_goes_back_to_the_managed_identity_endpoint(emulator: EmulatorProcess) -> None:
    emulator.reset()
    tokens = credential_tokens(ManagedIdentityCredential(), API)
    tokens(False)
    tokens(False)
    assert emulator.stats()["msi:requests"] == 1  # the second came from the credential's cache
    tokens(True)
    assert emulator.stats()["msi:requests"] == 2
