"""A user's mailbox is ``tid`` + ``oid``: names decide nothing. Through the local stack, with tokens
signed by the emulator (its admin ``mint`` for the impostors) and rows written straight to Azurite
for the ones an earlier version stored.

Each impostor below carries another object id and one spelling of the victim's name: the spellings
an API that matched on ``upn`` / ``preferred_username`` (lower-cased with Unicode rules) let in.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime

import jwt
import pytest
import requests
from azure.data.tables import TableClient
from azure.identity import ManagedIdentityCredential

from localdev.stack import storage_connection_string
from tests.auth.token_factory import DIRECTORY
from tests.e2e.problems import problem
from tests.e2e.stack import Stack

API = DIRECTORY["applications"]["notification-api"]["identifierUris"][0] + "/.default"


def call(stack: Stack, method: str, path: str, token: str, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    return requests.request(method, f"{stack.base_url}{path}", headers=headers, timeout=60, **kwargs)


@pytest.fixture
def writer(stack: Stack, monkeypatch) -> str:
    stack.emulator.activate(monkeypatch)
    return ManagedIdentityCredential(client_id=stack.emulator.identity("build-agents")["clientId"]).get_token(API).token


@pytest.fixture
def reader_app(stack: Stack, monkeypatch) -> str:
    stack.emulator.activate(monkeypatch)
    return ManagedIdentityCredential().get_token(API).token  # caller-app: notification.read, the home tenant


def user_claims(stack: Stack, user: str) -> dict:
    """A real delegated token's claims (alice's, v1, through the Azure CLI client) to mint variants of."""
    return jwt.decode(stack.emulator.user_token(user, API), options={"verify_signature": False})


def sees(stack: Stack, token: str, notification_id: str) -> bool:
    """Whether the token's caller can list, read or acknowledge the notification (each checked)."""
    listed = call(stack, "GET", "/notifications", token, params={"top": 100}).json()["items"]
    in_list = notification_id in {n["id"] for n in listed}
    read = call(stack, "GET", f"/notifications/{notification_id}", token).status_code
    assert read in (200, 404)
    if read == 404:
        assert call(stack, "POST", f"/notifications/{notification_id}/ack", token).status_code == 404
    return in_list or read == 200


def create(stack: Stack, token: str, recipient: str) -> dict:
    response = call(stack, "POST", "/notifications", token, json={"recipient": recipient, "title": "t", "body": "b"})
    assert response.status_code == 201, response.text
    return response.json()


IMPOSTORS = {
    # name -> the claims an impostor's token carries besides its own oid (victim: alice, or kate below)
    "her UPN in upper case": lambda upn: {"upn": upn.upper()},
    "her UPN, reused by a newcomer (new oid)": lambda upn: {"upn": upn},
    "her UPN as preferred_username": lambda upn: {"upn": None, "preferred_username": upn},
    "her UPN as email": lambda upn: {"upn": None, "email": upn},
    "her UPN as unique_name": lambda upn: {"upn": None, "unique_name": upn},
    "a long s (folds to s)": lambda upn: {"upn": upn.replace("contoso", "conto\u017fo")},
    "her object id as a name": lambda upn: {"upn": None, "preferred_username": ALICE_OID_PLACEHOLDER},
}
ALICE_OID_PLACEHOLDER = "<alice's oid>"


@pytest.mark.parametrize("impostor", IMPOSTORS)
def test_a_name_never_opens_someone_elses_mailbox(stack: Stack, writer: str, reader_app: str, impostor: str) -> None:
    alice = stack.emulator.user("alice")
    mine = create(stack, writer, alice["id"])["id"]
    changes = {
        k: (alice["id"] if v == ALICE_OID_PLACEHOLDER else v)
        for k, v in IMPOSTORS[impostor](alice["userPrincipalName"]).items()
    }
    claims = {**user_claims(stack, "alice"), "oid": str(uuid.uuid4()), "sub": "someone-else", **changes}
    token = stack.emulator.mint({k: v for k, v in claims.items() if v is not None})
    assert not sees(stack, token, mine)
    assert sees(stack, stack.emulator.user_token("alice", API), mine)  # the control: alice herself does
    assert call(stack, "GET", f"/notifications/{mine}", reader_app).json()["status"] == "pending"


def test_the_kelvin_sign_does_not_make_kate(stack: Stack, writer: str) -> None:
    """'\\u212a'.lower() == 'k': under the old name rule "\\u212aate@..." read kate's mail."""
    base = user_claims(stack, "alice")
    kate = {**base, "oid": str(uuid.uuid4()), "upn": "kate@contoso.onmicrosoft.com", "name": "Kate"}
    for_kate = create(stack, writer, kate["oid"])["id"]
    assert sees(stack, stack.emulator.mint(kate), for_kate)
    kelvin = {**kate, "oid": str(uuid.uuid4()), "upn": "\u212aate@contoso.onmicrosoft.com"}
    assert not sees(stack, stack.emulator.mint(kelvin), for_kate)


@pytest.mark.parametrize(
    "recipient",
    [
        "alice@contoso.onmicrosoft.com",  # a name: refused, not looked up
        "ALICE@CONTOSO.ONMICROSOFT.COM",
        "\u212aate@contoso.onmicrosoft.com",
        "275ac8aa-33e7-4cc1-94d1-5a5533d5aed\u0666",  # an Arabic-Indic digit six
        "\uff12\uff17\uff15ac8aa-33e7-4cc1-94d1-5a5533d5aed6",  # fullwidth digits
        " 275ac8aa-33e7-4cc1-94d1-5a5533d5aed6",
        "{275ac8aa-33e7-4cc1-94d1-5a5533d5aed6}",
    ],
)
def test_recipients_are_object_ids_only(stack: Stack, writer: str, recipient: str) -> None:
    refused = problem(
        call(stack, "POST", "/notifications", writer, json={"recipient": recipient, "title": "t", "body": "b"}), 400
    )
    assert [e["pointer"] for e in refused["errors"]] == ["#/recipient"]
    assert "object id" in refused["errors"][0]["detail"]


def token_of(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode().rstrip("=")


def test_page_tokens_are_checked_against_the_caller(stack: Stack, writer: str, reader_app: str) -> None:
    """A page token is a position the API issued within what the caller sees; anything else is 400."""
    home = stack.emulator.tenant
    alice = stack.emulator.user_token("alice", API)
    for _ in range(3):
        create(stack, writer, stack.emulator.user("alice")["id"])
    first = call(stack, "GET", "/notifications", alice, params={"top": 1}).json()
    issued = first["nextPageToken"]
    assert issued
    assert call(stack, "GET", "/notifications", alice, params={"top": 1, "pageToken": issued}).status_code == 200
    row = json.loads(base64.urlsafe_b64decode(issued + "=" * (-len(issued) % 4)))["r"]
    for bad in (
        token_of({"p": "45483bf2-f888-444c-a7c2-9ddd848c19b0", "r": row}),  # another tenant's partition
        token_of({"p": "notifications", "r": row}),  # the earlier version's rows: apps of home only
        token_of('{"p": "' + home + '", "r": "\\ud800"}'),  # a lone surrogate (was a 500)
        token_of({"p": home, "r": "i-" + "0" * 64}),  # an idempotency record
        token_of({"PartitionKey": home, "RowKey": row}),  # the storage SDK's own token shape
        "!!",
    ):
        problem(call(stack, "GET", "/notifications", alice, params={"pageToken": bad}), 400)
    legacy_page = token_of({"p": "notifications", "r": row})
    assert call(stack, "GET", "/notifications", reader_app, params={"pageToken": legacy_page}).status_code == 200


def test_rows_an_earlier_version_stored_stay_readable_by_the_home_tenants_apps(managed: Stack, reader_app: str) -> None:
    """One partition, recipients by UPN: the home tenant's apps still list, read and acknowledge those
    rows; alice, named in one, does not reach it (her name proves nothing)."""
    alice = managed.emulator.user("alice")
    notification_id = f"{int(time.time() * 1000):013d}{uuid.uuid4().hex[:12]}"
    table = TableClient.from_connection_string(
        storage_connection_string(*managed.storage_ports), table_name="notifications"
    )
    with table:
        table.create_entity(
            {
                "PartitionKey": "notifications",
                "RowKey": f"n-{notification_id}",
                "id": notification_id,
                "recipient": alice["userPrincipalName"],
                "recipientKey": alice["userPrincipalName"].lower(),
                "title": "stored by an earlier version",
                "body": "b",
                "status": "pending",
                "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "createdBy": managed.emulator.identity("build-agents")["principalId"],
            }
        )
    assert not sees(managed, managed.emulator.user_token("alice", API), notification_id)
    assert call(managed, "GET", f"/notifications/{notification_id}", reader_app).status_code == 200
    listed, token = set(), None
    for _ in range(50):  # the home partition first, then the earlier rows
        page = call(
            managed, "GET", "/notifications", reader_app, params={"top": 100, **({"pageToken": token} if token else {})}
        ).json()
        listed |= {n["id"] for n in page["items"]}
        token = page["nextPageToken"]
        if not token:
            break
    assert notification_id in listed
    acked = call(managed, "POST", f"/notifications/{notification_id}/ack", reader_app)
    assert acked.json()["status"] == "acknowledged"
