"""Every command README.md shows is exercised by a test (or the demo), or is named here as one
that cannot run on this machine. A new command in the README without either fails this test."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from localdev import running
from tests.e2e.stack import demo_summary, descendants
from tests.processes import ROOT, ReadyProcess, fresh_clone

README = (ROOT / "README.md").read_text()

EXERCISED = {
    "make run": "Makefile `run` = python -m localdev up (checked below; the command itself: tests/e2e)",
    "make test": ".ci/run runs it on every submission",
    "make demo": "run below against `make run` on other ports; tests/e2e/test_demo.py",
    "python -m localdev up": "tests/e2e/stack.py starts every e2e stack with it (--developer: tests/azure_cli)",
    "python -m localdev az": "tests/azure_cli/ (login --user, login for a person, -- ARGS, -- login --identity)",
    "make az": ".ci/run runs it before make test (tests/test_ci.py)",
    "python -m emulator [serve]": "tests/emulator_process.py starts every emulator with it",
    "python -m emulator &": "the same command (tests/emulator_process.py)",
    # The lines in RUN_AGAINST_THE_STACK (below) also run as written against a stack `make run` started.
    "python -m emulator token": "tests/emulator/test_users.py::test_token_cli_prints_a_verifiable_token",
    "python -m emulator assign": "tests/emulator/test_users.py::test_assign_and_unassign_cli_*",
    "python -m emulator unassign": "the same test",
    "python -m emulator credential-reset": "tests/emulator/test_token_endpoint.py::test_credential_reset_cli_*",
    "python -m caller_app.get_token": "tests/e2e/test_caller.py (table, --json, --raw, --client-id, --expect)",
    "python -m localdev exec": "run below against a stack `make run` started; tests/e2e/test_local_stack.py",
    "python -m localdev settings": "tests/localdev/test_settings.py; tests/e2e/test_core_tools.py (the steps)",
    "source .venv/bin/activate": "tests/e2e/test_core_tools.py::test_the_readme_core_tools_steps_*",
    "infra/deploy.sh": "tests/infra/test_deploy_sh.py runs it against a stand-in az (deploy, retry, --what-if)",
}
NOT_RUNNABLE_HERE = {
    "npx azurite": "the Core Tools path; `localdev up` starts the same Azurite (tests/e2e)",
    "func start": "Core Tools cannot be installed here (its installer downloads from a CDN); "
    "tests/e2e/test_core_tools.py runs the steps with a stand-in func",
    "azd ": "needs an Azure subscription",
    "az login": "needs an Azure subscription",
    "az group delete": "clean-up: needs an Azure subscription",
    "az ad app delete": "clean-up: needs an Entra tenant",
    "az keyvault list-deleted": "clean-up: needs an Azure subscription",
    "az keyvault purge": "clean-up: needs an Azure subscription",
}


def readme_commands() -> list[str]:
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line and not line.startswith(("#", "[")):  # "[..." continues an option list
                commands.append(line)
    return commands


def test_every_readme_command_is_accounted_for() -> None:
    commands = readme_commands()
    assert len(commands) > 10
    unknown = [c for c in commands if not any(c.startswith(k) for k in (*EXERCISED, *NOT_RUNNABLE_HERE))]
    assert unknown == [], f"README commands no test exercises: {unknown}"


def test_make_targets_run_the_documented_commands() -> None:
    for target, command in (("run", "-m localdev up"), ("demo", "-m localdev demo"), ("test", "-m pytest")):
        dry = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert command in dry.stdout, (target, dry.stdout)


def test_deploy_script_is_valid_bash_and_explains_itself() -> None:
    assert subprocess.run(["bash", "-n", "infra/deploy.sh"], cwd=ROOT).returncode == 0
    usage = subprocess.run(["bash", "infra/deploy.sh"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert usage.returncode == 2
    assert "<resource-group> <location> <environment-name>" in usage.stdout


def heading_anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation other than '-' and '_' dropped, spaces as '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_front_matter_carries_the_sample_metadata() -> None:
    """Azure samples carry YAML metadata (in an HTML comment, so GitHub does not render it)."""
    block = re.match(r"<!--\n---\n(.*?)\n---\n-->\n# ", README, re.S)
    assert block, "README.md must start with the sample metadata block"
    metadata = yaml.safe_load(block.group(1))
    assert metadata["page_type"] == "sample"
    assert "python" in metadata["languages"]
    assert {"azure-functions", "entra-id"} <= set(metadata["products"])
    assert len(metadata["description"]) > 40


def test_contents_lists_every_section_in_order() -> None:
    toc = re.search(r"^## Contents\n\n((?:- \[.*\]\(#.*\)\n)+)", README, re.M)
    assert toc, "README.md needs a '## Contents' list"
    listed = re.findall(r"- \[(.*)\]\(#(.*)\)", toc.group(1))
    sections = [h for h in re.findall(r"^## (.+)$", README, re.M) if h != "Contents"]
    assert [title for title, _ in listed] == sections
    assert [anchor for _, anchor in listed] == [heading_anchor(h) for h in sections]


def test_layout_comes_right_after_the_two_commands() -> None:
    sections = re.findall(r"^## (.+)$", README, re.M)
    assert sections.index("Layout") == sections.index("Two commands") + 1


def test_the_licence_is_mit_and_the_readme_says_so() -> None:
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    assert "[LICENSE](LICENSE)" in README


# -- commands that need the running stack: run as written against one `make run` started ----------

RUN_AGAINST_THE_STACK = (
    "make demo",
    "python -m localdev demo",
    "python -m localdev exec",
    "python -m emulator token",
    "python -m emulator assign",
    "python -m emulator unassign",
    "python -m emulator credential-reset",
)
# What a reader types instead of the placeholders, from directory.json.
_DIRECTORY = json.loads((ROOT / "directory.json").read_text())
PLACEHOLDERS = {
    "<api app id>": _DIRECTORY["applications"]["notification-api"]["appId"],
    "<user-assigned client id>": _DIRECTORY["managedIdentities"]["build-agents"]["clientId"],
}


def make_run(folder: Path) -> ReadyProcess:
    """`make run` on non-default ports in ``folder``, a fresh clone (its .emulator and .azurite its own)."""
    return ReadyProcess(
        ["make", "run", "PORT=0", "EMULATOR_PORT=0", "STORAGE_PORT=0"],
        "local stack ready: ",
        folder.parent / "make-run.log",
        env=activated(),
        inherit_env=False,
        timeout=300,
        cwd=folder,
    )


def stop_make_run(process: ReadyProcess, folder: Path) -> int | None:
    """SIGTERM to make and the stack it runs (their process group), as a supervisor or `kill -- -PGID`
    does; make also passes it on to `localdev up`. Returns the pid of `localdev up` if it is still
    running 30 s later (after killing it and what it started: never leave a stack behind)."""
    stack = running.read(folder / ".emulator")
    os.killpg(process.popen.pid, signal.SIGTERM)
    process.stop()
    if stack is None:
        return None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if running.read(folder / ".emulator") is None and not Path(f"/proc/{stack.pid}").exists():
            return None
        time.sleep(0.2)
    for pid in [*descendants(stack.pid), stack.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return stack.pid


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = fresh_clone(tmp_path_factory.mktemp("readme") / "clone")
    process = make_run(folder)
    try:
        yield folder
    finally:
        left = stop_make_run(process, folder)
    assert left is None, f"`localdev up` (pid {left}) did not stop when make run was stopped"


def test_stopping_make_run_stops_the_stack(tmp_path: Path) -> None:
    """Regression: make passes SIGTERM on, so `localdev up` got it twice in a row. Its handler called
    Event.set(), and a signal handled while the Event's lock was held waited for that lock forever
    (seen with gdb in stacks these tests left behind): the stack kept running, every port held."""
    folder = fresh_clone(tmp_path / "clone")
    process = make_run(folder)
    recorded = running.find(folder / ".emulator")
    assert stop_make_run(process, folder) is None
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", int(recorded.base_url.rsplit(":", 1)[1].split("/")[0])))  # the host is gone


def activated() -> dict[str, str]:
    """A new terminal with the venv activated: nothing of this test run's environment (a session
    emulator's settings, say) but what a shell has, including the CA variables this machine sets."""
    env = {"HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8", "COLUMNS": "200"}
    env["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), os.environ["PATH"]))
    env["REQUESTS_CA_BUNDLE"] = env["SSL_CERT_FILE"] = "/etc/ssl/certs/ca-certificates.crt"
    return env


def stack_commands() -> list[str]:
    commands = [c for c in readme_commands() if c.startswith(RUN_AGAINST_THE_STACK)]
    return list(dict.fromkeys(c for c in commands if "[" not in c and "COMMAND" not in c))  # not synopses


def run_as_written(command: str, clone: Path) -> subprocess.CompletedProcess:
    for placeholder, value in PLACEHOLDERS.items():
        command = command.replace(placeholder, value)
    assert "<" not in command, f"a placeholder this test cannot fill: {command}"
    return subprocess.run(
        ["bash", "-c", command], cwd=clone, capture_output=True, text=True, timeout=300, env=activated()
    )


def test_make_demo_finds_the_stack_make_run_started_on_other_ports(clone: Path) -> None:
    result = run_as_written("make demo", clone)
    assert result.returncode == 0, result.stdout + result.stderr
    assert demo_summary() in result.stdout
    assert "against http://localhost:7071/api" not in result.stdout


def test_readme_commands_that_need_the_stack_run_against_it(clone: Path) -> None:
    commands = [c for c in stack_commands() if c != "make demo"]  # make demo: the test above
    assert len(commands) >= 9, commands
    for command in commands:
        result = run_as_written(command, clone)
        assert result.returncode == 0, f"{command}\n{result.stdout}{result.stderr}"
        assert "Traceback" not in result.stderr, command
        assert "Warning" not in result.stderr, command


def test_the_named_attack_count_is_current() -> None:
    from tests.auth.test_validation import BAD_TOKENS

    stated = re.search(r"`tests/auth/test_validation.py` refuses (\d+) named bad tokens", README)
    assert stated, "README.md no longer states how many named bad tokens the validator refuses"
    assert int(stated.group(1)) == len(BAD_TOKENS)
