"""Route templates the Functions host accepts, translated; the ones it would read differently, refused."""

from __future__ import annotations

import pytest

from localdev.routes import RouteTemplateError, translate


@pytest.mark.parametrize(
    ("template", "paths"),
    [
        ("health", ("/api/health",)),
        ("items/{id:int}", ("/api/items/{id:fnint}",)),
        ("items/{id:guid}/ack", ("/api/items/{id:fnguid}/ack",)),
        ("users/{id?}", ("/api/users/{id:fnsegment}", "/api/users")),
        ("files/{*rest}", ("/api/files/{rest:fnrest}", "/api/files")),
        ("", ("/api",)),
    ],
)
def test_translation(template: str, paths: tuple[str, ...]) -> None:
    assert translate(template, "api").paths == paths


def test_empty_prefix() -> None:
    assert translate("health", "").paths == ("/health",)


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("items/{id:regex(x)}", "not a parameter"),
        ("items/{id:weird}", "unsupported constraint"),
        ("items/{id?}/more", "only the last parameter"),
        ("files/{*rest}/more", "catch-all must be the last"),
        ("items/id}", "stray"),
    ],
)
def test_refused(template: str, reason: str) -> None:
    with pytest.raises(RouteTemplateError, match=reason):
        translate(template, "api")


def test_precedence_literals_first_catch_all_last() -> None:
    ordered = sorted(
        [translate(t, "api") for t in ("files/{*rest}", "items/{id}", "items/latest")], key=lambda t: t.precedence
    )
    assert [t.template for t in ordered] == ["items/latest", "items/{id}", "files/{*rest}"]
