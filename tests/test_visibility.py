"""Who may see a notification: one rule (notification_api.store.Visibility), applied by the store."""

from __future__ import annotations

from auth import Principal
from notification_api import visibility
from notification_api.store import Visibility

ALICE = Principal(
    object_id="7a1f0000-0000-0000-0000-00000000a11c",
    tenant_id="t",
    app_id="client",
    roles=frozenset({"notification.read"}),
    scopes=frozenset({"Notifications.Read"}),
    is_app=False,
    username="Alice@Contoso.onmicrosoft.com",
)
APP = Principal(
    object_id="app",
    tenant_id="t",
    app_id="client",
    roles=frozenset({"notification.read"}),
    scopes=frozenset(),
    is_app=True,
)


def entity(recipient: str) -> dict[str, str]:
    return {"recipient": recipient, "recipientKey": recipient.lower()}


def test_a_user_sees_what_is_addressed_to_their_object_id_or_upn_in_any_case() -> None:
    seen = visibility(ALICE)
    assert seen.allows(entity(ALICE.object_id))
    assert seen.allows(entity("alice@contoso.onmicrosoft.com"))


def test_a_user_does_not_see_anyone_elses() -> None:
    assert not visibility(ALICE).allows(entity("carol@contoso.onmicrosoft.com"))


def test_an_app_with_the_role_sees_everything() -> None:
    assert visibility(APP).allows(entity("carol@contoso.onmicrosoft.com"))


def test_a_user_without_names_sees_nothing() -> None:
    nobody = Visibility.addressed_to("")
    assert nobody.names == frozenset()
    assert not nobody.allows(entity(""))
