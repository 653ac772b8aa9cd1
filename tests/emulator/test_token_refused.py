"""The caller app tells "Entra refused" from "the identity endpoint is down" by Entra's error codes,
parsed from the answer azure-identity attaches to its exception, never by searching the message."""

from __future__ import annotations

import pytest
from azure.core.exceptions import AzureError

from caller_app.api import TokenRefused
from outbound import build_credential
from tests.emulator_process import EmulatorProcess


def refusal(client_id: str, scope: str) -> TokenRefused:
    with pytest.raises(AzureError) as raised:
        build_credential(client_id).get_token(scope)
    return TokenRefused.from_azure_error(raised.value)


def test_an_unassigned_identity_is_refused_with_entras_code(emulator: EmulatorProcess) -> None:
    refused = refusal(
        emulator.identity("obo-proxy-identity")["clientId"],
        "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/.default",
    )
    assert refused.codes == (501051,)
    assert refused.status == 403  # Entra decided: the client hears the fix, not "retry later"


def test_an_unreachable_identity_endpoint_has_no_code(emulator: EmulatorProcess, monkeypatch) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", "https://127.0.0.1:9/msi/token")
    refused = refusal(
        emulator.identity("caller-app")["clientId"],
        "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/.default",
    )
    assert refused.codes == ()
    assert refused.status == 503  # an outage: retry later
    assert refused.headers["Retry-After"]
