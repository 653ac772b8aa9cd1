"""What the guard costs a real route: ``GET /api/notifications`` with auth vs the same handler without.

Starts the local stack (Azurite + emulator) on free ports, then two dev hosts on the same
storage: function_app.py, and bench/unguarded_app.py. The load (4 client processes, keep-alive)
sends the same managed identity token to both. Target: guarded / unguarded >= 0.8.

    python bench/api_guard.py [--seconds 5] [--clients 4]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests
from azure.identity import ManagedIdentityCredential

from bench.load import measure, print_comparison
from tests.e2e.stack import start_host, start_stack
from tests.emulator_process import clear_machine_ca_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    clear_machine_ca_settings()
    with tempfile.TemporaryDirectory() as tmp_name, contextlib.ExitStack() as cleanup:
        tmp = Path(tmp_name)
        stack = start_stack(tmp)
        cleanup.callback(stack.process.stop)
        os.environ.update(stack.emulator.env)
        reader = (
            ManagedIdentityCredential()
            .get_token("api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/.default")
            .token
        )
        writer = (
            ManagedIdentityCredential(client_id=stack.emulator.identity("build-agents")["clientId"])
            .get_token("api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api/.default")
            .token
        )
        for i in range(10):
            requests.post(
                f"{stack.base_url}/notifications",
                json={"recipient": stack.emulator.user("alice")["id"], "title": f"t{i}", "body": "b"},
                headers={"Authorization": f"Bearer {writer}"},
                timeout=10,
            ).raise_for_status()
        guarded, guarded_url = start_host(tmp, stack.host_env())
        cleanup.callback(guarded.stop)
        env = stack.host_env()
        unguarded = start_host(tmp, env, "--app", "bench.unguarded_app:app")
        cleanup.callback(unguarded[0].stop)
        headers = {"Authorization": f"Bearer {reader}"}
        rows = {
            "with @api.requires (token validated)": measure(
                "GET",
                f"{guarded_url}/notifications",
                clients=args.clients,
                seconds=args.seconds,
                params={"top": 10},
                headers=headers,
            ),
            "same handler, no guard": measure(
                "GET",
                f"{unguarded[1]}/notifications",
                clients=args.clients,
                seconds=args.seconds,
                params={"top": 10},
                headers=headers,
            ),
        }
    print_comparison(
        f"Python {platform.python_version()}, {os.cpu_count()} cores, {args.clients} clients, "
        f"{args.seconds:g} s per row, storage on Azurite",
        "GET /api/notifications?top=10",
        rows,
        "guarded / unguarded",
    )


if __name__ == "__main__":
    main()
