"""`python -m emulator assign --principal` takes what an error message or Azure's tools give: a name,
an object id, a client id or a user principal name."""

from __future__ import annotations

import json

from emulator.directory import Directory
from tests.processes import ROOT

DATA = json.loads((ROOT / "directory.json").read_text())


def test_a_principal_is_found_by_name_object_id_client_id_or_upn() -> None:
    directory = Directory(DATA).home  # the home tenant: principals and assignments are per tenant
    alice, agents = directory.principal("alice"), directory.principal("build-agents")
    for key in ("alice", alice.object_id, alice.object_id.upper(), str(alice.upn)):
        assert directory.principal_name(key) == "alice", key
    for key in (agents.object_id, str(agents.app_id)):
        assert directory.principal_name(key) == "build-agents", key
    assert directory.assign(agents.object_id, "notification-api", "notification.read")
    assert ("build-agents", "notification-api", "notification.read") in directory.assignments
    assert directory.unassign(agents.app_id or "", "notification-api", "notification.read")
    assert ("build-agents", "notification-api", "notification.read") not in directory.assignments
