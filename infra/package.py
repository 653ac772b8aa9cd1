"""Build the deployment zip: the project minus what .funcignore lists (dev tools, tests, secrets).

    python infra/package.py dist/app.zip

The same rules as Core Tools' ``func azure functionapp publish`` and azd's packager, which both read
.funcignore with .gitignore's rules: a pattern without a slash matches a file or folder name at any
depth, one with a slash matches the path from the project root. Remote build installs
requirements.txt. A few names never ship whatever .funcignore says: azd's environments (``.azure/``,
which holds the generated webhook secret), virtual environments such as azd's ``<name>_env``, local
settings, ``.env`` files and private keys.
"""

from __future__ import annotations

import fnmatch
import os
import sys
import zipfile
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[1]
ALWAYS_EXCLUDED = [
    ".git",
    "dist",
    "__pycache__",
    "*.pyc",
    ".azure",
    "*_env",
    ".venv*",
    "local.settings.json",
    ".env",
    ".env.*",
    "*.pem",
    "*.key",
    "*.pfx",
]


def ignored_patterns(root: Path) -> list[str]:
    lines = (root / ".funcignore").read_text().splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]


def _matches(relative: PurePosixPath, pattern: str) -> bool:
    if "/" in pattern.strip("/"):
        return fnmatch.fnmatch(relative.as_posix(), pattern.strip("/"))
    return any(fnmatch.fnmatch(part, pattern) for part in relative.parts)


def included(relative: Path | PurePosixPath, patterns: list[str]) -> bool:
    path = PurePosixPath(relative.as_posix())
    return not any(_matches(path, p) for p in [*ALWAYS_EXCLUDED, *patterns])


def files(root: Path, patterns: list[str]) -> list[PurePosixPath]:
    """Every file to ship, sorted; excluded folders are not walked into (.venv, node_modules)."""
    kept: list[PurePosixPath] = []
    for folder, dirs, names in os.walk(root):
        here = PurePosixPath(Path(folder).relative_to(root).as_posix())
        dirs[:] = [d for d in dirs if included(here / d, patterns)]
        kept.extend(here / n for n in names if included(here / n, patterns))
    return sorted(kept)


def package(root: Path, target: Path) -> list[str]:
    kept = files(root, ignored_patterns(root))
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in kept:
            archive.write(root / name, name.as_posix())
    return [n.as_posix() for n in kept]


if __name__ == "__main__":
    shipped = package(ROOT, Path(sys.argv[1] if len(sys.argv) > 1 else "dist/app.zip"))
    print(f"{len(shipped)} files")
