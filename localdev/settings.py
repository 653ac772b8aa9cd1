"""``python -m localdev settings [--force]``: a local.settings.json for a plain ``func start``.

Built from ``local.settings.sample.json``, the running emulator's ``env`` file (its
``IDENTITY_HEADER``, absolute CA bundle paths, its port) and the ports you choose for the host and
Azurite. An existing file is only updated with ``--force``; its Values not in the sample (and
values you changed that localdev does not own) are kept.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .stack import ROOT, settings_file_values, storage_connection_string

SAMPLE = ROOT / "local.settings.sample.json"


class SettingsError(RuntimeError):
    """Printed as one line, exit 2."""


def read_env_file(state_dir: Path) -> dict[str, str]:
    path = state_dir / "env"
    if not path.exists():
        raise SettingsError(
            f"{path} not found: start the emulator first (`python -m emulator`, in another terminal), "
            "so its port, CA bundle and identity header are known"
        )
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def values(
    *, sample: dict[str, str], existing: dict[str, str], emulator_env: dict[str, str], port: int, storage_port: int
) -> dict[str, str]:
    """Sample < the user's file < what localdev owns (the emulator's values, storage, the host URL)."""
    storage = storage_connection_string(storage_port, storage_port + 1, storage_port + 2)
    return {
        **sample,
        **existing,
        **emulator_env,
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "AzureWebJobsStorage": storage,
        "NotificationStorage": storage,
        "NOTIFICATION_API_URL": f"http://localhost:{port}/api",
    }


def write(path: Path, *, state_dir: Path, port: int, storage_port: int, force: bool) -> Path:
    if not (0 < port < 65536 and 0 < storage_port < 65534):
        raise SettingsError("--port and --storage-port need real ports (a file cannot say 'any free port')")
    if path.exists() and not force:
        raise SettingsError(
            f"{path} exists; pass --force to update it (Values you added are kept, the emulator's and the "
            "ports are replaced)"
        )
    document = json.loads(path.read_text()) if path.exists() else {}
    document.setdefault("IsEncrypted", False)
    document["Values"] = values(
        sample=settings_file_values(SAMPLE),
        existing=settings_file_values(path),
        emulator_env=read_env_file(state_dir),
        port=port,
        storage_port=storage_port,
    )
    document["Host"] = {**document.get("Host", {}), "LocalHttpPort": port}
    # IDENTITY_HEADER is a local value, but still one the owner alone should read.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # the mode above applies to a new file only: a copied 0644 sample stays 0644
    with os.fdopen(fd, "w") as fh:
        json.dump(document, fh, indent=2)
        fh.write("\n")
    print(
        f"wrote {path}: host port {port}, emulator {document['Values']['AZURE_AUTHORITY_HOST']}, "
        f"Azurite {storage_port}-{storage_port + 2}"
    )
    # Core Tools applies a Value only where the environment has no variable of that name.
    shadowed = sorted(k for k, v in document["Values"].items() if k in os.environ and os.environ[k] != v)
    if shadowed:
        print(
            f"note: this shell sets {', '.join(shadowed)}; func start keeps those and skips the file's values. "
            f"Unset them first (unset {' '.join(shadowed)}) or run `python -m localdev up`."
        )
    return path
