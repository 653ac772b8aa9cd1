"""``python -m localdev az``: the real Azure CLI, signed in to the local emulator, in a config of its own.

The CLI's whole state (clouds, accounts, MSAL token cache) lives in ``--config-dir`` (default
``.azure-cli`` in the project, git-ignored): the person's own ``~/.azure`` is never read or
written. Every ``az`` call gets the stack's environment (see :func:`az_environment`), so nothing
it does leaves this machine.

    python -m localdev az login --user alice      # device code flow, approved through the emulator
    python -m localdev az login                   # prints the code; sign in on the emulator's page
    python -m localdev az -- account get-access-token --resource api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG_DIR = ROOT / ".azure-cli"
PROJECT_AZ = ROOT / ".venv-az" / "bin" / "az"  # where `make az` installs it
CLOUD = "LocalEmulator"
AZURE_CLI_VERSION = "2.91.0"  # the version these tools were checked with (Makefile: AZ_VERSION)
INSTALL_HINT = (
    "the Azure CLI (az) is not installed. Install it into a venv of its own with `make az` "
    f"(azure-cli=={AZURE_CLI_VERSION} into .venv-az: about 100 s and 730 MB), or put any az on PATH. "
    "It is a developer tool like Core Tools: never a requirement of the apps."
)
# A proxy address where nothing listens, for every host that is not loopback: if az ever tried to
# reach the internet (instance discovery, telemetry, the VM metadata address 169.254.169.254), the
# attempt fails here instead of leaving the machine.
NOWHERE = "http://127.0.0.1:9"
LOOPBACK = "localhost,127.0.0.1,::1"


class AzureCliError(RuntimeError):
    """Something the user can fix (az missing, no emulator, a refused sign-in): one line, exit 2."""


def find_az() -> str:
    """``az`` from PATH, else the one `make az` installed; a clear error when there is none."""
    found = shutil.which("az") or (str(PROJECT_AZ) if PROJECT_AZ.exists() else None)
    if not found:
        raise AzureCliError(INSTALL_HINT)
    return found


def read_stack_env(state_dir: Path) -> dict[str, str]:
    """What the emulator wrote at start: authority, CA bundle, managed identity endpoint and header."""
    path = state_dir / "env"
    if not path.exists():
        raise AzureCliError(f"{path} not found: start the stack first (make run, or python -m localdev up)")
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def az_settings(stack: dict[str, str], config_dir: Path) -> dict[str, str]:
    """What az needs to work against the local stack, for ``localdev az`` and for the apps' own az calls
    (``AzureCliCredential`` under ``localdev up --developer``); :func:`az_environment` says why each."""
    return {
        "AZURE_CONFIG_DIR": str(config_dir.resolve()),
        "REQUESTS_CA_BUNDLE": stack["REQUESTS_CA_BUNDLE"],
        "AZURE_CORE_INSTANCE_DISCOVERY": "false",
        "AZURE_CORE_USE_MSAL_HTTP_CACHE": "false",
        "AZURE_CORE_COLLECT_TELEMETRY": "false",
        "IDENTITY_ENDPOINT": stack["IDENTITY_ENDPOINT"],
        "IDENTITY_HEADER": stack["IDENTITY_HEADER"],
    }


def az_environment(stack: dict[str, str], config_dir: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every az call runs with.

    - ``AZURE_CONFIG_DIR``: az's whole state in the project, never ``~/.azure``;
    - ``REQUESTS_CA_BUNDLE``: the emulator's CA (az's requests uses certifi; ``SSL_CERT_FILE`` is not read);
    - ``AZURE_CORE_INSTANCE_DISCOVERY=false``: no question to the public cloud before each sign-in;
    - ``AZURE_CORE_USE_MSAL_HTTP_CACHE=false``: otherwise az replays a 400 token answer for 60 s across
      processes, and a role just assigned or a consent just given looks ignored;
    - ``AZURE_CORE_COLLECT_TELEMETRY=false``;
    - ``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER``, always: an az signed in with ``--identity`` that
      runs without them asks the VM metadata address 169.254.169.254 instead of the emulator;
    - proxies pointing nowhere for anything but loopback, so no request can leave the machine.
    """
    env = dict(os.environ if base is None else base)
    env.update(az_settings(stack, config_dir))
    env.update(
        {
            "AZURE_CORE_NO_COLOR": "true",
            "HTTPS_PROXY": NOWHERE,
            "HTTP_PROXY": NOWHERE,
            "NO_PROXY": LOOPBACK,
        }
    )
    for name in ("https_proxy", "http_proxy", "no_proxy", "all_proxy", "ALL_PROXY", "MSI_ENDPOINT", "MSI_SECRET"):
        env.pop(name, None)  # lower-case proxies would win over ours in requests; MSI_* is another protocol
    return env


class AzureCli:
    """Runs the real ``az`` against the emulator whose state folder is ``state_dir``."""

    def __init__(self, state_dir: Path, config_dir: Path = DEFAULT_CONFIG_DIR) -> None:
        self.stack = read_stack_env(state_dir)
        self.origin = self.stack["AZURE_AUTHORITY_HOST"]
        self.config_dir = config_dir
        self.az = find_az()
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.env = az_environment(self.stack, config_dir)

    def run(self, *args: str, capture: bool = True, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [self.az, *args], env=self.env, stdin=subprocess.DEVNULL, capture_output=capture, text=True
        )
        if check and result.returncode != 0:
            raise AzureCliError(f"az {' '.join(args[:3])} failed: {(result.stderr or '').strip()}")
        return result

    def cloud_is_current(self) -> bool:
        """Whether az's config already has the local cloud, at this emulator's address, as the active one.

        Read from az's own files (``config``: the active cloud; ``clouds.config``: registered clouds), so
        that each ``localdev az`` call does not pay for two more az runs (a second or more each).
        """
        active, clouds = configparser.ConfigParser(), configparser.ConfigParser()
        try:
            active.read(self.config_dir / "config")
            clouds.read(self.config_dir / "clouds.config")
        except configparser.Error:
            return False  # az will say what is wrong with its files; registering again is harmless
        return (
            active.get("cloud", "name", fallback=None) == CLOUD
            and clouds.get(CLOUD, "endpoint_resource_manager", fallback=None) == self.origin
        )

    def use_local_cloud(self) -> None:
        """Make sure az talks to this emulator: without the local cloud az uses AzureCloud, which the
        proxy guard stops ("Unable to connect to proxy"), so this runs before every az command."""
        if not self.cloud_is_current():
            self.register_cloud()

    def register_cloud(self) -> None:
        """The local cloud, discovered from the emulator's ``/metadata/endpoints``, made the active one."""
        arm = self.origin  # az appends /metadata/endpoints to it
        known = self.run("cloud", "show", "--name", CLOUD, "--query", "endpoints.resourceManager", "-o", "tsv",
                         check=False)  # fmt: skip
        if known.returncode != 0:
            self.run("cloud", "register", "--name", CLOUD, "--endpoint-resource-manager", arm)
        elif known.stdout.strip() != arm:  # the emulator moved to another port
            self.run("cloud", "set", "--name", "AzureCloud")
            self.run("cloud", "update", "--name", CLOUD, "--endpoint-resource-manager", arm)
        self.run("cloud", "set", "--name", CLOUD)

    def login(self, user: str | None) -> int:
        """``az login --use-device-code``; with ``user``, the emulator approves the code for that user."""
        if user is None:  # a person enters the code on the emulator's page
            self.use_local_cloud()
            self.run("account", "clear")
            command = [self.az, "login", "--use-device-code", "--allow-no-subscriptions", "--output", "none"]
            return subprocess.run(command, env=self.env, stdin=subprocess.DEVNULL).returncode
        print(f"az signed in as {self.sign_in(user)} (config {self.config_dir})")
        return 0

    def sign_in(self, user: str) -> str:
        """Sign ``user`` in through the device code flow, approved by the emulator; return az's account name.

        Signs everyone out first (``az account clear``): az keeps each access token it got for up to an
        hour, so after a role change only a fresh sign-in shows it at once (in Azure too).
        """
        self.use_local_cloud()
        self.run("account", "clear")
        command = [self.az, "login", "--use-device-code", "--allow-no-subscriptions", "--output", "none"]
        process = subprocess.Popen(
            command, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        output: list[str] = []
        code_seen = threading.Event()
        user_code: list[str] = []

        stderr = process.stderr
        if stderr is None:  # cannot happen with stderr=PIPE; typeshed types it as optional
            raise RuntimeError("az login: no error pipe")

        def read_stderr() -> None:
            for line in stderr:
                output.append(line)
                found = re.search(r"enter the code (\S+) to authenticate", line)
                if found and not user_code:
                    user_code.append(found.group(1))
                    code_seen.set()
            code_seen.set()

        reader = threading.Thread(target=read_stderr, daemon=True)
        reader.start()
        code_seen.wait(timeout=60)
        if not user_code:
            process.kill()
            process.wait()
            raise AzureCliError(f"az login printed no device code: {''.join(output).strip()}")
        try:
            self.approve(user_code[0], user)
        except AzureCliError:
            process.kill()
            process.wait()
            raise
        process.communicate(timeout=120)
        reader.join(timeout=5)
        if process.returncode != 0:
            raise AzureCliError(f"az login failed: {''.join(output).strip()}")
        return self.run("account", "show", "--query", "user.name", "-o", "tsv").stdout.strip()

    def access_token(self, resource: str) -> subprocess.CompletedProcess:
        """``az account get-access-token --resource R`` (what AzureCliCredential runs); the token on stdout."""
        return self.run(
            "account", "get-access-token", "--resource", resource, "--query", "accessToken", "-o", "tsv", check=False
        )

    def approve(self, user_code: str, user: str) -> None:
        try:
            response = requests.post(
                f"{self.origin}/admin/device-codes",
                json={"userCode": user_code, "user": user},
                verify=self.stack["REQUESTS_CA_BUNDLE"],
                timeout=10,
            )
        except requests.ConnectionError:
            raise AzureCliError(f"no emulator answers on {self.origin}. Is the stack running?") from None
        if response.status_code != 200:
            raise AzureCliError(f"the emulator refused to sign {user} in: {response.json().get('error')}")


def main(args) -> int:
    """Entry point for ``python -m localdev az ...`` (arguments parsed in ``__main__``)."""
    try:
        cli = AzureCli(args.state_dir, args.config_dir)
        if args.az_command == "login":
            return cli.login(args.user)
        cli.use_local_cloud()  # a fresh config would otherwise send az to AzureCloud
        return cli.run(*args.az_args, capture=False, check=False).returncode
    except AzureCliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
