"""How the portal reads ARM's permissions (a button) and names the role that would grant an action."""

from __future__ import annotations

from obo_proxy import azure_rbac

RESTART = "Microsoft.Web/sites/restart/action"
READER = {"actions": ["*/read"], "notActions": []}
WEBSITE_CONTRIBUTOR = {"actions": ["Microsoft.Web/sites/*"], "notActions": []}
NO_RESTART = {"actions": ["*"], "notActions": ["microsoft.web/sites/restart/action"]}


def test_an_action_is_allowed_by_one_entry_that_matches_and_does_not_exclude_it() -> None:
    assert not azure_rbac.allows([READER], RESTART)
    assert azure_rbac.allows([READER, WEBSITE_CONTRIBUTOR], RESTART)
    assert not azure_rbac.allows([NO_RESTART], RESTART)  # notActions ignore case, like actions
    assert azure_rbac.allows([NO_RESTART, WEBSITE_CONTRIBUTOR], RESTART)  # notActions is not a deny
    assert not azure_rbac.allows([], RESTART)


def test_junk_in_arms_answer_allows_nothing() -> None:
    assert not azure_rbac.allows([{"actions": "*"}, {"actions": [None, 3]}, {}], RESTART)


def test_the_role_named_in_a_refusal_is_the_narrowest() -> None:
    assert azure_rbac.roles_granting(RESTART) == ["Website Contributor", "Contributor"]
    assert azure_rbac.roles_granting("Microsoft.Web/sites/read") == ["Reader", "Website Contributor", "Contributor"]
    assert azure_rbac.roles_granting("Microsoft.Authorization/roleAssignments/write") == []
