"""The GitHub workflow cannot run on this machine; these tests hold it to what can be checked here:
it runs on pushes and pull requests, on Debian (whose chromium packages the browser test needs),
and runs `.ci/run`, which ends in the test command README.md gives."""

from __future__ import annotations

import re
import shlex
import subprocess
import tomllib
from typing import Any

import yaml

from infra.package import ignored_patterns, included
from tests.processes import ROOT


def load(path: str) -> Any:
    return yaml.safe_load((ROOT / path).read_text())


def readme_test_command() -> str:
    two_commands = re.search(r"## Two commands\n.*?```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert two_commands, "README.md lost its 'Two commands' block"
    commands = [line.split("#")[0].strip() for line in two_commands.group(1).splitlines()]
    return next(c for c in commands if c.startswith("make test"))


def last_command(script: str) -> str:
    lines = [line.strip() for line in (ROOT / script).read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")][-1]


def test_ci_script_ends_with_the_readme_test_command() -> None:
    assert last_command(".ci/run") == readme_test_command() == "make test"


def test_ci_script_installs_debian_chromium_and_its_driver() -> None:
    script = (ROOT / ".ci/run").read_text()
    install = next(line for line in script.splitlines() if "apt-get install" in line)
    assert {"chromium", "chromium-driver"} <= set(shlex.split(install))


def test_workflow_runs_on_pushes_and_pull_requests() -> None:
    workflow = load(".github/workflows/ci.yml")
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` key as true
    assert "push" in triggers
    assert "pull_request" in triggers


def test_workflow_runs_the_ci_script_on_debian() -> None:
    (job,) = load(".github/workflows/ci.yml")["jobs"].values()
    # The official Python images' bookworm variants are Debian bookworm (Debian's chromium packages).
    assert re.fullmatch(r"python:\$\{\{ matrix\.python \}\}-bookworm", job["container"])
    commands = [step["run"].strip() for step in job["steps"] if "run" in step]
    assert commands[-1] == "bash .ci/run"


def supported_pythons() -> list[str]:
    """The versions pyproject.toml states, from its classifiers."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    prefix = "Programming Language :: Python :: 3."
    return [
        c.removeprefix("Programming Language :: Python :: ") for c in project["classifiers"] if c.startswith(prefix)
    ]


def test_workflow_tests_every_supported_python() -> None:
    """3.11, 3.12 (what infra/ deploys) and 3.13: each in its own job, and one failing hides none."""
    (job,) = load(".github/workflows/ci.yml")["jobs"].values()
    matrix = job["strategy"]["matrix"]["python"]
    assert matrix == supported_pythons() == ["3.11", "3.12", "3.13"]
    assert job["strategy"]["fail-fast"] is False
    deployed = re.search(
        r"param pythonVersion string = '([\d.]+)'", (ROOT / "infra/modules/functionapp.bicep").read_text()
    )
    assert deployed
    assert deployed.group(1) in matrix
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == f">={matrix[0]}"
    # The job checks that the python3 it runs is the matrix's (Debian's own python3 must not win).
    checks = [step["run"] for step in job["steps"] if "sys.version_info" in step.get("run", "")]
    assert len(checks) == 1
    assert "${{ matrix.python }}" in checks[0]
    checkout = next(i for i, step in enumerate(job["steps"]) if step.get("uses", "").startswith("actions/checkout@"))
    assert [i for i, step in enumerate(job["steps"]) if "sys.version_info" in step.get("run", "")][0] < checkout
    assert not any("python3" in line.split() for line in job["steps"][0]["run"].splitlines())  # no second Python


def test_ci_script_keeps_one_python() -> None:
    """.ci/run uses the machine's python3 (the workflow picks which): no version of its own."""
    script = (ROOT / ".ci/run").read_text()
    assert not re.search(r"python3\.\d+|PYTHON=|pyenv|setup-python", script)


def test_workflow_checks_out_before_running_the_script() -> None:
    (job,) = load(".github/workflows/ci.yml")["jobs"].values()
    uses = [i for i, step in enumerate(job["steps"]) if step.get("uses", "").startswith("actions/checkout@")]
    runs_script = [i for i, step in enumerate(job["steps"]) if ".ci/run" in step.get("run", "")]
    assert uses
    assert runs_script
    assert uses[0] < runs_script[0]


def test_dependabot_watches_pip_and_npm_at_the_root() -> None:
    updates = {(u["package-ecosystem"], u["directory"]) for u in load(".github/dependabot.yml")["updates"]}
    assert {("pip", "/"), ("npm", "/")} <= updates


def test_pre_commit_runs_ruff_and_the_formatter_from_the_pinned_venv() -> None:
    hooks = {hook["id"]: hook for repo in load(".pre-commit-config.yaml")["repos"] for hook in repo["hooks"]}
    assert hooks["ruff-check"]["entry"].startswith(".venv/bin/python -m ruff check")
    assert hooks["ruff-format"]["entry"].startswith(".venv/bin/python -m ruff format")


def test_pre_commit_checks_the_files_make_test_checks() -> None:
    """`ruff check .` reads *.py and *.pyi; handed an extensionless script, ruff would check it too."""
    hooks = [hook for repo in load(".pre-commit-config.yaml")["repos"] for hook in repo["hooks"]]
    for hook in hooks:
        assert re.search(hook["files"], "auth/guards.py"), hook["id"]
        assert not re.search(hook["files"], "tests/localdev/core_tools/func"), hook["id"]


def test_ci_script_installs_the_azure_cli_before_the_tests() -> None:
    """The az tests skip where az is missing; in CI they must run, so CI installs it and requires it."""
    lines = [line.strip() for line in (ROOT / ".ci/run").read_text().splitlines()]
    assert lines.index("make az") < lines.index("make test")
    assert "export REQUIRE_AZ=1" in " ".join(lines)


def deployed_python() -> set[str]:
    """Top-level Python packages and modules a deployment carries (what .funcignore lets through)."""
    patterns = ignored_patterns(ROOT)
    return {
        path.name
        for path in ROOT.iterdir()
        if included(path.relative_to(ROOT), patterns)
        and ((path.is_dir() and (path / "__init__.py").exists()) or path.suffix == ".py")
    }


def test_typecheck_is_strict_for_everything_that_deploys() -> None:
    makefile = (ROOT / "Makefile").read_text()
    deployed = re.search(r"^DEPLOYED := (.*)$", makefile, re.M)
    assert deployed, "Makefile lost its DEPLOYED list"
    assert set(deployed.group(1).split()) == deployed_python()
    assert "mypy --strict --cache-dir .mypy_cache/strict $(DEPLOYED)" in makefile


def test_make_test_runs_the_typecheck() -> None:
    dry = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "-m mypy --strict" in dry.stdout
    assert "-m mypy --cache-dir .mypy_cache/default" in dry.stdout


def test_pre_commit_runs_the_typecheck() -> None:
    hooks = {hook["id"]: hook for repo in load(".pre-commit-config.yaml")["repos"] for hook in repo["hooks"]}
    assert hooks["mypy"]["entry"] == "make typecheck"
    assert hooks["mypy"]["pass_filenames"] is False  # the whole tree, as make test checks it
