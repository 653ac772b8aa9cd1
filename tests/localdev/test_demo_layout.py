"""The demo's table reads in an 80-column terminal: no line wider, no word cut, every reason whole."""

from __future__ import annotations

from localdev.azure_cli import INSTALL_HINT, AzureCliError
from localdev.demo import Outcome, as_sentence, layout

OUTCOMES = [
    Outcome("S2S: caller-app creates without the role", "403", "403", "missing app role notification.create"),
    Outcome(
        "Audience: App ID URI and app id GUID",
        "both 200",
        "both 200",
        "aud 96556ed1-0179-40bd-8f75-9ae2ea11a01b and api://notification-api",
    ),
    Outcome(
        "A scenario whose title is long enough to need a second line at eighty columns, as some will",
        "200",
        "{'api://notification-api': 401, '96556ed1-0179-40bd-8f75-9ae2ea11a01b': 401}",
        "ver 1.0, iss https://sts.windows.net/{tid}/; ver 2.0, iss https://localhost:8443/{tid}/v2.0",
    ),
    Outcome(
        "Developer: Azure CLI scenarios",
        "5 outcomes",
        "skipped",
        as_sentence(str(AzureCliError(INSTALL_HINT))),
        skipped=True,
    ),  # fmt: skip
]


def test_no_line_is_wider_than_80_columns_and_no_word_is_cut() -> None:
    lines = layout(OUTCOMES)
    assert max(map(len, lines)) <= 80, "\n".join(line for line in lines if len(line) > 80)
    shown = " ".join(lines).split()
    for outcome in OUTCOMES:
        for word in (*outcome.scenario.split(), *outcome.decided_by.split()):
            assert word in shown, word


def test_each_scenario_starts_with_its_verdict_and_a_failure_says_what_was_expected() -> None:
    lines = layout(OUTCOMES)
    starts = [line[:4] for line in lines if not line.startswith(" ")]
    assert starts == ["PASS", "PASS", "FAIL", "SKIP"]
    assert "expected 200, got" in " ".join(lines)


def test_a_skip_reason_is_whole_sentences() -> None:
    """Regression: the reason the Azure CLI rows were skipped was cut at 100 characters, mid-word."""
    reason = " ".join(" ".join(layout(OUTCOMES[3:])[1:]).split())
    assert reason == " ".join(as_sentence(INSTALL_HINT).split())
    assert reason[0].isupper()
    assert reason.endswith(".")
    assert "make az" in reason
