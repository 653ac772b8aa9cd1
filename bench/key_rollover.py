"""Signing-key rollover under steady load: a planned roll, an emergency roll, a flood of unknown kids.

One dev host runs the three apps (two validators: the API's and the proxy's) against the emulator,
while client threads call it without pause, each kind holding a token as real clients do:

- ``caller``: ``GET /api/caller/notifications`` (the caller's cached managed identity token, inside
  the host; after a 401 the bearer client asks once for a fresh one);
- ``api``: carol's token for the API, ``GET /api/notifications``; a new token every second;
- ``proxy``: alice's token for the proxy, ``GET /api/obo/notifications``; a new token every second.

An ``api`` or ``proxy`` client that gets a 401 takes a new token and tries once more, as the bearer
client does. Reported per phase: requests, 401s, 401s for a token signed by a withdrawn key, their
retries that succeeded, requests that failed for good, key-set fetches at the emulator (its per-route
counter), and the managed identity tokens the host asked for: the caller's (after the API's 401) and
the proxy's federated assertions (after Entra refused one signed by a withdrawn key).

Planned roll: add, wait, use, wait, retire, wait. Emergency roll: ``roll --emergency``, then load.
Flood: 10,000 requests with made-up kids at the benchmark's host (cooldown shortened to ``--cooldown``
so the two rolls fit in a minute), then at a host with the default cooldown (300 s).

    python bench/key_rollover.py [--clients 6] [--cooldown 10] [--wait 3]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import secrets
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jwt
import requests

from tests.auth.token_factory import TokenFactory
from tests.e2e.stack import start_host, start_stack
from tests.emulator_process import EmulatorClient, clear_machine_ca_settings
from tests.processes import ReadyProcess

KEYS_ROUTE = "route:GET /{tenant}/discovery/v2.0/keys"
FLOOD = 10_000
RENEW_SECONDS = 1.0


@dataclass
class Tally:
    requests: int = 0
    refused: int = 0
    refused_withdrawn: int = 0
    retried_ok: int = 0
    failed: int = 0


class Load:
    """Client threads calling the host until stopped; ``take()`` hands over the tally so far."""

    def __init__(self, base_url: str, state_dir: Path, clients: int) -> None:
        self.base_url, self.state_dir = base_url, state_dir
        self.withdrawn: set[str] = set()  # kids the benchmark retired
        self._tally, self._lock, self._stop = Tally(), threading.Lock(), threading.Event()
        kinds = ("caller", "api", "proxy")
        self._threads = [threading.Thread(target=self._run, args=(kinds[i % 3],)) for i in range(clients)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join()

    def take(self) -> Tally:
        with self._lock:
            tally, self._tally = self._tally, Tally()
        return tally

    def _count(self, **changes: int) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(self._tally, name, getattr(self._tally, name) + value)

    def _run(self, kind: str) -> None:
        emulator, session = EmulatorClient(self.state_dir), requests.Session()
        user, scope, path = {
            "caller": ("", "", "/caller/notifications"),
            "api": ("carol", f"{api_uri(emulator)}/.default", "/notifications"),
            "proxy": (
                "alice",
                f"{proxy_uri(emulator)}/access_as_user",
                "/obo/notifications",
            ),
        }[kind]
        token, issued = "", 0.0

        def call(bearer: str) -> int:
            headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
            return session.get(f"{self.base_url}{path}", params={"top": 1}, headers=headers, timeout=30).status_code

        while not self._stop.is_set():
            if user and time.monotonic() - issued > RENEW_SECONDS:
                token, issued = emulator.user_token(user, scope), time.monotonic()
            status = call(token)
            if status == 401 and user:
                withdrawn = jwt.get_unverified_header(token)["kid"] in self.withdrawn
                token, issued = emulator.user_token(user, scope), time.monotonic()
                retry = call(token)
                self._count(requests=1, refused=1, refused_withdrawn=int(withdrawn), retried_ok=int(retry == 200),
                            failed=int(retry != 200))  # fmt: skip
            else:
                self._count(requests=1, failed=int(status != 200))


def api_uri(emulator: EmulatorClient) -> str:
    return str(emulator.directory["applications"]["notification-api"]["identifierUris"][0])


def proxy_uri(emulator: EmulatorClient) -> str:
    return str(emulator.directory["applications"]["obo-proxy"]["identifierUris"][0])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def counters(emulator: EmulatorClient) -> dict[str, int]:
    stats = emulator.stats()
    return {
        "key fetches": stats.get(KEYS_ROUTE, 0),
        "caller's fresh MI tokens": stats.get("msi:caller-app", 0),
        "proxy's fresh assertions": stats.get("msi:obo-proxy-identity", 0),
    }


def forged(factory: TokenFactory) -> str:
    """A token shaped like the tenant's, under a made-up kid; the signature is never reached."""

    def b64(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    header = {"typ": "JWT", "alg": "RS256", "kid": secrets.token_urlsafe(20)}
    return f"{b64(header)}.{b64(factory.app_claims())}.{b64({'sig': 1})}"


def flood(base_url: str, emulator: EmulatorClient, factory: TokenFactory) -> dict[str, float]:
    url = f"{base_url}/notifications"
    good = emulator.user_token("carol", f"{api_uri(emulator)}/.default")
    requests.get(url, headers={"Authorization": f"Bearer {good}"}, timeout=30).raise_for_status()  # keys known
    tokens = [forged(factory) for _ in range(FLOOD)]
    before = emulator.stats().get(KEYS_ROUTE, 0)
    sessions = [requests.Session() for _ in range(4)]

    def one(i: int) -> int:
        headers = {"Authorization": f"Bearer {tokens[i]}"}
        return sessions[i % 4].get(url, headers=headers, timeout=30).status_code

    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(one, range(FLOOD)))
    seconds = time.monotonic() - started
    return {
        "seconds": seconds,
        "fetches": emulator.stats().get(KEYS_ROUTE, 0) - before,
        "refused": sum(s == 401 for s in statuses),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=6, help="client threads (caller, api, proxy in turn)")
    parser.add_argument("--cooldown", type=int, default=10, help="the benchmark host's key cooldown (seconds)")
    parser.add_argument("--wait", type=float, default=3, help="seconds between the steps of a roll")
    args = parser.parse_args()
    clear_machine_ca_settings()
    rows: dict[str, tuple[Tally, dict[str, int], float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(Path(tmp))
        emulator = stack.emulator

        def host(cooldown: int) -> tuple[ReadyProcess, str]:
            """A host of the three apps; the caller calls the API in it, so its URL is needed before the start."""
            port = free_port()
            env = stack.host_env(
                APPS="",
                NOTIFICATION_API_URL=f"http://localhost:{port}/api",
                TOKEN_KEYS_COOLDOWN_SECONDS=str(cooldown),
            )
            return start_host(Path(tmp), env, "--port", str(port))

        rolling, base_url = host(args.cooldown)
        load = Load(base_url, emulator.state_dir, args.clients)
        factory = TokenFactory(emulator.origin)
        try:
            load.start()
            time.sleep(args.wait)  # warm: every client has a token, every validator its keys
            load.take()

            def phase(name: str, steps) -> None:
                emulator.admin("DELETE", "stats", json={})
                started = time.monotonic()
                steps()
                rows[name] = (load.take(), counters(emulator), time.monotonic() - started)

            def planned() -> None:
                old = next(k["kid"] for k in emulator.admin("GET", "keys")["keys"] if k["signing"])
                new = emulator.admin("POST", "keys", json={})["added"]
                time.sleep(args.wait)
                emulator.admin("POST", "keys/signing", json={"kid": new})
                time.sleep(args.wait)
                emulator.admin("DELETE", "keys", json={"kid": old})
                load.withdrawn.add(old)
                time.sleep(args.wait)

            def emergency() -> None:
                old = next(k["kid"] for k in emulator.admin("GET", "keys")["keys"] if k["signing"])
                emulator.admin("POST", "keys/roll", json={"emergency": True})
                load.withdrawn.add(old)
                time.sleep(3 * args.wait)

            phase("planned roll (add, wait, use, wait, retire, wait)", planned)
            time.sleep(args.cooldown)  # the `use` above started each validator's cooldown
            load.take()
            phase("emergency roll (roll --emergency, then load)", emergency)
            load.stop()
            floods = {f"the benchmark host (cooldown {args.cooldown} s)": flood(base_url, emulator, factory)}
            default, default_url = host(300)
            try:
                floods["a host with the default cooldown (300 s)"] = flood(default_url, emulator, factory)
            finally:
                default.stop()
        finally:
            load.stop()
            rolling.stop()
            stack.process.stop()

    print(f"\nPython {platform.python_version()}, {os.cpu_count()} cores, {args.clients} client threads, dev host")
    print(f"(three apps, two validators), Azurite; steps {args.wait:g} s apart, cooldown {args.cooldown} s\n")
    names = [f.name.replace("_", " ") for f in fields(Tally)]
    counted_names = list(next(iter(rows.values()))[1])
    print(f"| phase | seconds | {' | '.join(names)} | {' | '.join(counted_names)} |")
    print("|---|" + "---:|" * (len(names) + len(counted_names) + 1))
    for name, (tally, counted, seconds) in rows.items():
        values = [str(getattr(tally, f.name)) for f in fields(Tally)] + [str(v) for v in counted.values()]
        print(f"| {name} | {seconds:.0f} | {' | '.join(values)} |")
    print(f"\n| {FLOOD:,} requests with made-up kids at | seconds | refused | key fetches | cooldowns elapsed |")
    print("|---|---:|---:|---:|---:|")
    for name, result in floods.items():
        cooldown = 300 if "300" in name else args.cooldown
        periods = int(result["seconds"] // cooldown) + 1
        print(f"| {name} | {result['seconds']:.1f} | {result['refused']:.0f} | {result['fetches']:.0f} | {periods} |")


if __name__ == "__main__":
    main()
