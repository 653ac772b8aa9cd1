"""Who may see a notification: one rule (notification_api.store.Visibility), applied by the store, and
the page tokens that carry a position within it. A caller is ``tid`` + ``oid``; names decide nothing.

The end-to-end tests (tests/e2e/test_mailboxes.py) show the same against storage, with real tokens.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from auth import Principal
from notification_api import settings, visibility
from notification_api.store import LEGACY_PARTITION, InvalidPageToken, PageToken, Visibility
from tests.processes import sample_settings

HOME = "7812c330-acf6-4d59-acac-aae48e763f41"  # local.settings.sample.json's AZURE_TENANT_ID
CUSTOMER = "45483bf2-f888-444c-a7c2-9ddd848c19b0"
ALICE = "7a1f0000-0000-0000-0000-00000000a11c"
ROW = "n-1733356800000a1b2c3d4e5f6"


@pytest.fixture(autouse=True)
def home_tenant(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """visibility() asks the API's settings which tenant is home: the sample's."""
    for name, value in sample_settings().items():
        monkeypatch.setenv(name, value)
    settings.cache_clear()
    yield
    settings.cache_clear()


def caller(tenant: str, oid: str, *, app: bool, username: str | None = None) -> Principal:
    return Principal(
        object_id=oid,
        tenant_id=tenant,
        app_id="client",
        roles=frozenset({"notification.read"}),
        scopes=frozenset() if app else frozenset({"Notifications.Read"}),
        is_app=app,
        username=username,
    )


def row(partition: str, recipient: str, **extra: str) -> dict[str, str]:
    return {"PartitionKey": partition, "RowKey": ROW, "recipient": recipient, **extra}


def test_a_user_sees_what_is_addressed_to_their_object_id_in_their_tenant() -> None:
    alice = visibility(caller(HOME, ALICE, app=False, username="alice@contoso.onmicrosoft.com"))
    assert alice.allows(row(HOME, ALICE))
    assert not alice.allows(row(HOME, "c0ffee00-0000-0000-0000-000000000ca5"))
    assert not alice.allows(row(CUSTOMER, ALICE))  # the same oid string in another tenant: another mailbox


def test_a_name_in_the_token_reaches_nothing() -> None:
    """A token naming alice (any spelling, or her object id as a name) with another oid sees none of hers."""
    for name in ("alice@contoso.onmicrosoft.com", "ALICE@CONTOSO.ONMICROSOFT.COM", ALICE):
        impostor = visibility(caller(HOME, "0badf00d-0000-0000-0000-000000000bad", app=False, username=name))
        assert not impostor.allows(row(HOME, ALICE))
        assert not impostor.allows(row(LEGACY_PARTITION, name, recipientKey=name.lower()))


def test_an_app_sees_its_own_tenants_notifications_only() -> None:
    home_app = visibility(caller(HOME, "app", app=True))
    assert home_app.allows(row(HOME, ALICE))
    assert not home_app.allows(row(CUSTOMER, ALICE))
    customer_app = visibility(caller(CUSTOMER, "app", app=True))
    assert customer_app.allows(row(CUSTOMER, ALICE))
    assert not customer_app.allows(row(HOME, ALICE))


def test_rows_an_earlier_version_stored_are_for_the_home_tenants_apps_only() -> None:
    earlier = row(LEGACY_PARTITION, "alice@contoso.onmicrosoft.com", recipientKey="alice@contoso.onmicrosoft.com")
    assert visibility(caller(HOME, "app", app=True)).allows(earlier)
    assert not visibility(caller(CUSTOMER, "app", app=True)).allows(earlier)
    assert not visibility(caller(HOME, ALICE, app=False, username="alice@contoso.onmicrosoft.com")).allows(earlier)


# -- page tokens ---------------------------------------------------------------------------------


def raw(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode().rstrip("=")


def test_a_page_token_round_trips_within_what_the_caller_sees() -> None:
    token = PageToken(HOME, ROW).encode()
    assert PageToken.decode(token, Visibility.tenant(HOME)) == PageToken(HOME, ROW)
    assert PageToken.decode(PageToken(LEGACY_PARTITION, ROW).encode(), Visibility.tenant(HOME, legacy=True))


BAD_PAGE_TOKENS = {
    "another tenant's partition": raw({"p": CUSTOMER, "r": ROW}),
    "the earlier version's partition, for a user": raw({"p": LEGACY_PARTITION, "r": ROW}),
    "the partition in upper case": raw({"p": HOME.upper(), "r": ROW}),
    "an idempotency record's row key": raw({"p": HOME, "r": "i-" + "0" * 64}),
    "a row key with a trailing newline": raw({"p": HOME, "r": ROW + "\n"}),
    "a row key of Unicode digits": raw({"p": HOME, "r": "n-" + "\u0661" * 13 + "a1b2c3d4e5f6"}),
    "a lone surrogate in the row key": raw('{"p": "' + HOME + '", "r": "\\ud800"}'),
    "a lone surrogate in the partition": raw('{"p": "\\udfff", "r": "' + ROW + '"}'),
    "invalid UTF-8": base64.urlsafe_b64encode(b'{"p": "\xff"}').decode().rstrip("="),
    "a row key as a number": raw({"p": HOME, "r": 1}),
    "the partition as a list": raw({"p": [HOME], "r": ROW}),
    "an extra field": raw({"p": HOME, "r": ROW, "x": 1}),
    "the SDK's continuation token": raw({"PartitionKey": HOME, "RowKey": ROW}),
    "JSON, not an object": raw([HOME, ROW]),
    "deeply nested JSON": raw("[" * 60 + "]" * 60),
    "not base64url": "!!",
    "padding": PageToken(HOME, ROW).encode() + "==",
    "too long": "A" * 5000,
    "non-ASCII": "\u00e9",
}


@pytest.mark.parametrize("name", BAD_PAGE_TOKENS)
def test_a_bad_page_token_is_refused(name: str) -> None:
    with pytest.raises(InvalidPageToken):
        PageToken.decode(BAD_PAGE_TOKENS[name], Visibility.mailbox(HOME, ALICE))
