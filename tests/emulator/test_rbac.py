"""Azure RBAC's rules as the emulator applies them (pure functions, no HTTP)."""

from __future__ import annotations

import pytest

from emulator import rbac


def test_built_in_roles_have_their_real_ids() -> None:
    assert rbac.role("Reader").id == "acdd72a7-3385-48ef-bd42-f606fba81ae7"
    assert rbac.role("website contributor").id == "de139f84-1756-47ae-9be6-808fbbe84772"
    assert rbac.role("b24988ac-6180-42a0-ab88-20f7382dd24c").name == "Contributor"
    with pytest.raises(rbac.UnknownRole):
        rbac.role("Website Owner")


@pytest.mark.parametrize(
    ("role", "action", "granted"),
    [
        ("Reader", "Microsoft.Web/sites/read", True),
        ("Reader", "Microsoft.Web/sites/restart/action", False),
        ("Reader", "microsoft.insights/eventtypes/values/read", True),  # case does not matter
        ("Website Contributor", "Microsoft.Web/sites/restart/action", True),
        ("Website Contributor", "Microsoft.Web/serverFarms/write", False),
        ("Website Contributor", "Microsoft.Insights/eventtypes/values/read", False),
        ("Contributor", "Microsoft.Web/sites/restart/action", True),
        ("Contributor", "Microsoft.Authorization/roleAssignments/write", False),  # notActions
        ("Contributor", "Microsoft.Authorization/roleAssignments/read", True),
        ("Owner", "Microsoft.Authorization/roleAssignments/write", True),
    ],
)
def test_actions_minus_not_actions(role: str, action: str, granted: bool) -> None:
    assert rbac.role(role).grants(action) is granted


def test_only_the_star_is_a_wildcard() -> None:
    assert rbac.matches("Microsoft.Web/sites/*", "Microsoft.Web/sites/restart/action")
    assert not rbac.matches("Microsoft.Web/sites/*", "Microsoft.Web/sitesX")
    assert not rbac.matches("Microsoft.Web/sites.read", "Microsoft.Web/sitesXread")  # "." is literal


def test_scopes_inherit_downwards_only() -> None:
    sub = "/subscriptions/9b1f3c52-6a8e-4d2b-8f31-5c7e2a9d4b60"
    group = f"{sub}/resourceGroups/rg-notify-staging"
    assert rbac.covers(sub, f"{group}/providers/Microsoft.Web/sites/x")
    assert rbac.covers(group.upper(), group)
    assert not rbac.covers(group, sub)
    assert not rbac.covers(f"{sub}/resourceGroups/rg-notify", group)  # a prefix of a name is not a parent


def test_the_role_to_suggest_is_the_narrowest() -> None:
    names = [r.name for r in rbac.granting_roles("Microsoft.Web/sites/restart/action")]
    assert names == ["Website Contributor", "Contributor", "Owner"]
