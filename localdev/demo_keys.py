"""The demo's signing-key rows: a planned roll (nothing fails) and an emergency roll (a cached token
signed by the withdrawn key fails once and the retry succeeds), with the key fetches they cost.

Both leave one published key that signs, so the stack keeps working and the demo can run again. Each
waits out the API's key cooldown first: a key first seen within it is refused (Microsoft's trade-off
against floods of made-up key ids), and the previous roll started it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from . import running
from .demo import API_RESOURCE, PROXY_SCOPE, Demo, Outcome
from .stack import ROOT, local_settings

KEY_FETCHES = "route:GET /{tenant}/discovery/v2.0/keys"
CALLER_TOKENS = "msi:caller-app"  # the caller's (system-assigned) identity asking the endpoint
LONGEST_WAIT = 30  # seconds; a stack with a longer cooldown (Azure's 300) skips these rows


def cooldown(demo: Demo) -> int:
    """The host's TOKEN_KEYS_COOLDOWN_SECONDS: from the running stack's record, else the local settings."""
    record = running.read(demo.t.state_dir)
    settings = record.settings if record else local_settings(ROOT)
    return int(settings.get("TOKEN_KEYS_COOLDOWN_SECONDS") or 300)


def counters(demo: Demo) -> dict[str, int]:
    stats = demo.t.request("GET", "/admin/stats").json()
    return {name: int(stats.get(name, 0)) for name in (KEY_FETCHES, CALLER_TOKENS)}


def keys(demo: Demo, method: str, path: str = "", **body: object) -> dict:
    response = demo.t.request(method, f"/admin/keys{path}", json=body)
    response.raise_for_status()
    return response.json()


def signing_kid(demo: Demo) -> str:
    return next(k["kid"] for k in keys(demo, "GET")["keys"] if k["signing"])


def too_slow(demo: Demo, rows: int) -> Outcome | None:
    """Wait out the cooldown, or a skipped row when it is too long to wait for."""
    seconds = cooldown(demo)
    if seconds > LONGEST_WAIT:
        return Outcome(
            "Key roll", f"{rows} outcome(s)", "skipped", f"key cooldown {seconds} s (sample: 5)", skipped=True
        )
    time.sleep(seconds + 1)
    return None


def planned_roll(demo: Demo) -> list[Outcome]:
    """Add a key, sign with it, retire the old one, with traffic throughout: every call answers 200."""
    skipped = too_slow(demo, 1)
    if skipped:
        return [skipped]
    before, old = counters(demo), signing_kid(demo)
    statuses = [demo.call("GET", "/caller/notifications").status_code]  # the caller's cached token
    new = keys(demo, "POST")["added"]
    statuses.append(demo.call("GET", "/caller/notifications").status_code)
    keys(demo, "POST", "/signing", kid=new)
    statuses.append(demo.call("GET", "/obo/notifications", demo.t.user_token("alice", PROXY_SCOPE)).status_code)
    statuses.append(demo.call("GET", "/caller/notifications").status_code)
    keys(demo, "DELETE", kid=old)
    statuses.append(demo.call("GET", "/caller/notifications").status_code)
    statuses.append(demo.call("GET", "/obo/notifications", demo.t.user_token("alice", PROXY_SCOPE)).status_code)
    fetches = counters(demo)[KEY_FETCHES] - before[KEY_FETCHES]
    return [
        Outcome(
            "Key roll, planned: add, use, retire",
            "no failure",
            "no failure" if set(statuses) == {200} else f"statuses {statuses}",
            f"{fetches} key fetches (API, proxy); kid {old[:6]}… → {new[:6]}…",
        )
    ]


def emergency_roll(demo: Demo) -> list[Outcome]:
    """Roll and withdraw the old key at once: a new token makes the API fetch the keys (the old one is
    gone), then the caller's cached token is refused once and the bearer client's retry succeeds."""
    skipped = too_slow(demo, 2)
    if skipped:
        return [skipped]
    demo.call("GET", "/caller/notifications")  # the caller holds a token signed by an old key
    before = counters(demo)
    rolled = keys(demo, "POST", "/roll", emergency=True)
    new_token = demo.t.user_token("carol", f"{API_RESOURCE}/.default")
    fresh = demo.call("GET", "/notifications", new_token).status_code
    fetches = counters(demo)[KEY_FETCHES] - before[KEY_FETCHES]
    retried = demo.call("GET", "/caller/notifications").status_code
    asked_again = counters(demo)[CALLER_TOKENS] - before[CALLER_TOKENS]
    return [
        Outcome(
            "Key roll, emergency: a new token",
            "200",
            str(fresh),
            f"{fetches} key fetch; kid {rolled['retired'][:6]}… withdrawn",
        ),
        Outcome(
            "Key roll, emergency: cached token",
            "401, retry 200",
            "401, retry 200" if (retried, asked_again) == (200, 1) else f"{retried}, {asked_again} new tokens",
            "the caller asked once more; MI cache evicted",
        ),
    ]


def scenarios(demo: Demo) -> list[Callable[[], list[Outcome]]]:
    def key_roll_planned() -> list[Outcome]:
        return planned_roll(demo)

    def key_roll_emergency() -> list[Outcome]:
        return emergency_roll(demo)

    return [key_roll_planned, key_roll_emergency]
