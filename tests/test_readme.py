"""The README and the docs/ pages, checked as a reader would use them: every command they show is
exercised by a test (or the demo), or is named here as one that cannot run on this machine, with
the reason; the commands that need the local stack run as written against one `make run` started
in a fresh clone; code excerpts are the code; links lead somewhere."""

from __future__ import annotations

import contextlib
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
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TEXTS = {path: path.read_text() for path in PAGES}

EXERCISED = {
    "make run": "Makefile `run` = python -m localdev up (checked below; the command itself: tests/e2e)",
    "make test": ".ci/run runs it on every submission",
    "make demo": "run below against `make run` on other ports; tests/e2e/test_demo.py",
    "make az": ".ci/run runs it before make test (tests/test_ci.py)",
    "python -m localdev up": "tests/e2e/stack.py starts every e2e stack with it (--developer: tests/azure_cli)",
    "python -m localdev az": "tests/azure_cli/ (login --user, login for a person, -- ARGS, -- login --identity)",
    "python -m emulator [serve]": "tests/emulator_process.py starts every emulator with it",
    "python -m emulator &": "the same command (tests/emulator_process.py)",
    # The lines in RUN_AGAINST_THE_STACK (below) also run as written against a stack `make run` started.
    "python -m emulator token": "tests/emulator/test_users.py::test_token_cli_prints_a_verifiable_token",
    "python -m emulator assign": "tests/emulator/test_users.py::test_assign_and_unassign_cli_*",
    "python -m emulator unassign": "the same test",
    "python -m emulator consent": "tests/emulator/test_consent.py::test_admin_call_and_cli",
    "python -m emulator credential-reset": "tests/emulator/test_token_endpoint.py::test_credential_reset_cli_*",
    "python -m emulator role": "tests/emulator/test_resource_manager.py (assign); tests/e2e/test_portal.py",
    "python -m emulator keys": "tests/emulator/test_signing_keys.py::test_the_keys_command",
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
    "az ad app list": "clean-up: needs an Entra tenant",
    "az keyvault list ": "clean-up: needs an Azure subscription",
    "az group delete": "clean-up: needs an Azure subscription",
    "az ad app delete": "clean-up: needs an Entra tenant",
    "az keyvault list-deleted": "clean-up: needs an Azure subscription",
    "az keyvault purge": "clean-up: needs an Azure subscription",
    "az role assignment": "needs an Azure subscription",
    "az rest": "clean-up: deletes for good from Entra's deleted items, needs an Entra tenant",
}


def page_commands(text: str) -> list[str]:
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line and not line.startswith(("#", "[")):  # "[..." continues an option list
                commands.append(line)
    return commands


def readme_commands() -> list[str]:
    """Every command README.md and the docs/ pages show, README first, in page order."""
    return [command for path in PAGES for command in page_commands(TEXTS[path])]


def test_every_documented_command_is_accounted_for() -> None:
    commands = readme_commands()
    assert len(page_commands(README)) >= 4
    unknown = [c for c in commands if not any(c.startswith(k) for k in (*EXERCISED, *NOT_RUNNABLE_HERE))]
    assert unknown == [], f"commands in README.md or docs/ that no test exercises: {unknown}"


def test_no_documented_command_has_a_placeholder() -> None:
    """A reader types what the page shows: real local ids, or a command that looks the value up."""
    runnable = [c for c in readme_commands() if not c.startswith(tuple(NOT_RUNNABLE_HERE))]
    assert [c for c in runnable if re.search(r"<[^>]*>", c)] == []


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


def test_the_licence_is_mit_and_the_readme_says_so() -> None:
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    assert "[LICENSE](LICENSE)" in README


def test_the_readme_is_an_on_ramp() -> None:
    """Short enough to read in minutes; "what do I copy" answered in it, with links for the rest."""
    assert len(README.splitlines()) <= 300
    sections = re.findall(r"^## (.+)$", README, re.M)
    assert "Adopt it in your project" in sections
    adopt = README.split("## Adopt it in your project", 1)[1].split("\n## ", 1)[0]
    for copied in ("auth/", "outbound/", "infra/modules", "tests/auth/token_factory.py"):
        assert f"`{copied}" in adopt, copied


def test_pages_speak_to_users() -> None:
    """No notes about how the suite was built: benchmark targets, review notes, test counts."""
    notes = re.compile(r"Target:|target \d|points review|where this suite is built|\d+ (named )?(tests|bad tokens)\b")
    found = [(path.name, m.group(0)) for path, text in TEXTS.items() for m in notes.finditer(text)]
    assert found == []


def test_every_docs_page_is_in_the_readme_table() -> None:
    """A new page in docs/ gets its row in the README's "Documentation" table (say what it is for)."""
    table = README.split("## Documentation", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"\]\(docs/([\w.-]+\.md)\)", table))
    assert listed == {path.name for path in PAGES[1:]}


def test_the_users_table_gives_the_passwords_the_emulator_takes() -> None:
    users = {
        u["userPrincipalName"]: u["password"]
        for u in yaml.safe_load((ROOT / "directory.json").read_text())["users"].values()
    }
    rows = re.findall(r"^\| `([^`]+@[^`]+)` \| `([^`]+)` \|", README, re.M)
    assert rows
    assert all(users.get(upn) == password for upn, password in rows), rows


def excerpts(text: str) -> Iterator[tuple[str, list[str]]]:
    """Python blocks as (source file, lines): each part starts with a `# path.py` comment line."""
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        source = None
        for line in block.splitlines():
            named = re.fullmatch(r"# ([\w/]+\.py)(:.*)?", line.strip())
            if named:
                source = named.group(1)
                yield source, []
            elif source and line.strip() and line.strip() != "...":
                yield source, [line.strip()]


def test_code_excerpts_are_the_code() -> None:
    """Every line a page quotes under `# file.py` is in that file (lines may be left out, not changed)."""
    checked = 0
    for path, text in TEXTS.items():
        for source, lines in excerpts(text):
            code = {line.strip() for line in (ROOT / source).read_text().splitlines()}
            for line in lines:
                assert line in code, f"{path.name}: not in {source}: {line}"
                checked += 1
    assert checked > 20


def test_links_between_pages_lead_somewhere() -> None:
    for path, text in TEXTS.items():
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            file, _, anchor = target.partition("#")
            resolved = (path.parent / file).resolve() if file else path
            assert resolved.exists(), f"{path.name}: {target} does not exist"
            if anchor and resolved.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", resolved.read_text(), re.M)
                assert anchor in {heading_anchor(h) for h in headings}, f"{path.name}: no heading for {target}"


# -- commands that need the running stack: run as written against one `make run` started ----------

RUN_AGAINST_THE_STACK = (
    "make demo",
    "python -m localdev demo",
    "python -m localdev exec",
    "python -m emulator token",
    "python -m emulator assign",
    "python -m emulator unassign",
    "python -m emulator consent",
    "python -m emulator credential-reset",
    "python -m emulator role",
)


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
    """In page order, repeats included: a walk-through (assign, look, unassign) runs as a reader runs it."""
    commands = [c for c in readme_commands() if c.startswith(RUN_AGAINST_THE_STACK)]
    return [c for c in commands if "[" not in c and "COMMAND" not in c]  # not synopses


def run_as_written(command: str, clone: Path) -> subprocess.CompletedProcess:
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
