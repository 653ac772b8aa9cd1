"""The advice in the caller's 403s fits the case: the 24-hour cache hint only for a managed identity's
token, and the `--principal` of a suggested command names the principal that was refused."""

from __future__ import annotations

import re

import jwt

from caller_app import diagnosis

API_FORBIDS_CREATE = {"missing": ["app role notification.create"]}
USER_LACKS_CREATE = {"missing": ["user role notification.create"]}
IDENTITY = "9b3b6f8e-6d44-4a8b-9d8e-2f4d2b1c0a11"


def token(**claims: object) -> str:
    """Only decoded for display by the code under test, so any key will do."""
    return jwt.encode({"appid": "bb6df041-0425-4d11-beda-1837dc3e4f3e", "roles": [], **claims}, "k" * 32)


def suggested_principals(fixes: list[str]) -> list[str]:
    return re.findall(r"--principal (\S+)", " ".join(fixes))


def test_a_managed_identity_is_told_about_the_cache_and_named_in_the_command() -> None:
    problem = diagnosis.forbidden(API_FORBIDS_CREATE, token(oid=IDENTITY, roles=["notification.read"]))
    assert suggested_principals(problem["fix"]) == [IDENTITY]
    assert any("24 hours" in fix for fix in problem["fix"])


def test_a_developer_is_not_told_about_the_managed_identity_cache() -> None:
    """Regression: a developer's 403 ended with the 24-hour managed identity hint, which cannot apply."""
    user = "alice@contoso.onmicrosoft.com"
    problem = diagnosis.forbidden(USER_LACKS_CREATE, token(oid=IDENTITY, upn=user, scp="user_impersonation"))
    assert suggested_principals(problem["fix"]) == [user]
    assert not any("24 hours" in fix for fix in problem["fix"])
    assert any("sign in again" in fix for fix in problem["fix"])


def test_a_refused_token_request_gets_no_cache_hint() -> None:
    """Entra refused the token, so nothing was cached: the fix is an assignment, then a new sign-in."""
    for message in ("AADSTS50105: not assigned", "AADSTS65001: no consent", "AADSTS501051: no role"):
        fixes = diagnosis.token_refused(message)
        assert fixes, message
        assert not any("24 hours" in fix for fix in fixes), message
        assert "<" not in " ".join(fixes), message  # no placeholder a reader must guess
