"""Start the emulator: key material, the env file the apps read, then uvicorn over TLS."""

from __future__ import annotations

import ipaddress
import logging
import secrets
import socket
import sys
from pathlib import Path

import uvicorn

from .app import build_app
from .certs import ensure_tls
from .directory import Directory, DirectoryError
from .signing_keys import SigningKeys
from .state import Config, State
from .tokens import TokenIssuer


class PortInUse(RuntimeError):
    pass


def bind(host: str, port: int) -> socket.socket:
    """Bind before starting, so a busy port is a clear error and ``--port 0`` reports the real port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortInUse(
            f"cannot listen on {host}:{port}: {exc.strerror}. Is another emulator running? Stop it or pass --port."
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _is_loopback_address(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve anywhere


def identity_header(state_dir: Path) -> str:
    """Stable across restarts, so a functions host started earlier keeps working."""
    path = state_dir / "identity-header"
    path.touch(mode=0o600)  # private before the secret is in it
    path.chmod(0o600)  # and again if an older run or a copy left it readable
    if not path.read_text().strip():
        path.write_text(secrets.token_urlsafe(24))
    return path.read_text().strip()


def write_env(state_dir: Path, values: dict[str, str]) -> Path:
    """0600, like identity-header: it holds IDENTITY_HEADER, which lets any reader get tokens."""
    path = state_dir / "env"
    path.touch(mode=0o600)
    path.chmod(0o600)  # an env file from an older run may be 0644
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def env_values(config: Config, tenant_id: str, bundle: Path) -> dict[str, str]:
    # REQUESTS_CA_BUNDLE reaches requests/azure-core/MSAL; SSL_CERT_FILE reaches PyJWT (docs/emulator.md).
    return {
        "AZURE_TENANT_ID": tenant_id,
        "AZURE_AUTHORITY_HOST": config.origin,
        "IDENTITY_ENDPOINT": f"{config.origin}/msi/token",
        "IDENTITY_HEADER": config.identity_header,
        "REQUESTS_CA_BUNDLE": str(bundle),
        "SSL_CERT_FILE": str(bundle),
        "KEY_VAULT_URL": f"{config.origin}/",
        "RESOURCE_MANAGER_URL": config.origin,
    }


class ReadyServer(uvicorn.Server):
    """uvicorn that prints ``ready_line`` once it is really listening (tools wait for that line), and
    stops at once and quietly on Ctrl-C or SIGTERM, also while clients hold keep-alive connections."""

    ready_line = ""

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            print(self.ready_line, flush=True)

    async def shutdown(self, sockets=None) -> None:
        # Idle keep-alive connections are dropped at once. uvicorn closes them, and over TLS a close
        # waits for the client's close_notify, which an idle client never sends: every Ctrl-C with a
        # client connected waited out the graceful timeout and logged "timeout graceful shutdown exceeded".
        # A connection in the middle of a request is left to finish, as uvicorn does.
        for connection in list(self.server_state.connections):
            cycle = getattr(connection, "cycle", None)
            transport = getattr(connection, "transport", None)
            if transport is not None and (cycle is None or cycle.response_complete):
                transport.abort()
        await super().shutdown(sockets=sockets)

    def run_until_stopped(self, sockets: list[socket.socket]) -> int:
        """Serve until a signal; Ctrl-C is a normal way to stop (exit status 130, no traceback).

        uvicorn re-raises the signal it handled once it has shut down, so that the exit status says
        why; for SIGINT that surfaces as a KeyboardInterrupt, caught here. SIGTERM ends the process
        as SIGTERM does.
        """
        try:
            self.run(sockets=sockets)
        except KeyboardInterrupt:
            return 130
        return 0


def serve(
    *,
    host: str,
    port: int,
    state_dir: Path,
    directory_path: Path,
    msi_cache: bool,
    system_identity: str,
    access_log: bool,
    device_code_lifetime: int = 900,
    device_code_interval: int = 5,
) -> int:
    if not _is_loopback_address(host):
        print(
            f"WARNING: the emulator listens on {host}, beyond this machine. Anyone who reaches that address can "
            "sign in as the directory's users (their passwords are in directory.json), get managed identity "
            "tokens and read the vault's secrets. Use --host 127.0.0.1 unless you mean it.",
            file=sys.stderr,
            flush=True,
        )
    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    state_dir.chmod(0o700)  # keys, secrets' digests, refresh tokens: the owner's alone
    try:
        directory = Directory.load(directory_path)
    except DirectoryError as exc:
        print(f"error: {directory_path}: {exc}", file=sys.stderr)
        return 2
    if system_identity not in directory.principals or directory.principals[system_identity].kind != "managedIdentity":
        print(
            f"error: --system-identity {system_identity!r} is not a managed identity in {directory_path}",
            file=sys.stderr,
        )
        return 2
    tls = ensure_tls(state_dir)
    signing_keys = SigningKeys(state_dir)
    try:
        sock = bind(host, port)
    except PortInUse as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    port = sock.getsockname()[1]
    config = Config(
        origin=f"https://localhost:{port}",
        state_dir=state_dir,
        identity_header=identity_header(state_dir),
        system_identity=system_identity,
        msi_cache=msi_cache,
        device_code_lifetime=device_code_lifetime,
        device_code_interval=device_code_interval,
    )
    state = State(config, directory, TokenIssuer(signing_keys, directory.tenant_id, config.origin))
    env = env_values(config, directory.tenant_id, tls.bundle)
    env_file = write_env(state_dir, env)

    tid = directory.tenant_id
    print(f"tenant           {tid} ({directory.tenant_domain})")
    others = [f"{t.name} {t.tenant_id}" for t in directory.tenants.values() if not t.home]
    if others:
        print(f"other tenants    {', '.join(others)}")
    print(f"authority        {config.origin}/{tid}  (issuer v2 {state.issuer.issuer_v2})")
    print(
        f"managed identity {env['IDENTITY_ENDPOINT']}  (system-assigned: {system_identity}; "
        f"cache {'on' if msi_cache else 'off'})"
    )
    print(f"key vault        {env['KEY_VAULT_URL']}  ({directory.vault_name})")
    print(f"home page        {config.origin}/")
    print(f"env file         {env_file}  (CA bundle {tls.bundle})", flush=True)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = ReadyServer(
        uvicorn.Config(
            build_app(state),
            ssl_certfile=str(tls.cert),
            ssl_keyfile=str(tls.key),
            log_level="warning",
            access_log=access_log,
            lifespan="off",
            timeout_keep_alive=30,
            timeout_graceful_shutdown=2,
        )
    )
    server.ready_line = f"emulator ready on https://{host}:{port}"
    return server.run_until_stopped([sock])
