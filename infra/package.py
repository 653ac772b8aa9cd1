"""Build the deployment zip: the project minus what .funcignore lists (dev tools, tests, secrets).

    python infra/package.py dist/app.zip

The same rules as Core Tools' ``func azure functionapp publish``: each .funcignore line is a
glob matched against top-level names and paths. Remote build installs requirements.txt.
"""

from __future__ import annotations

import fnmatch
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALWAYS_EXCLUDED = {".git", "dist", "__pycache__"}


def ignored_patterns(root: Path) -> list[str]:
    lines = (root / ".funcignore").read_text().splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]


def included(relative: Path, patterns: list[str]) -> bool:
    parts = relative.parts
    if any(part in ALWAYS_EXCLUDED or part.endswith(".pyc") for part in parts):
        return False
    return not any(fnmatch.fnmatch(parts[0], p) or fnmatch.fnmatch(relative.as_posix(), p) for p in patterns)


def package(root: Path, target: Path) -> list[str]:
    patterns = ignored_patterns(root)
    names = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    kept = [n for n in names if included(n, patterns)]
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in kept:
            archive.write(root / name, name.as_posix())
    return [n.as_posix() for n in kept]


if __name__ == "__main__":
    files = package(ROOT, Path(sys.argv[1] if len(sys.argv) > 1 else "dist/app.zip"))
    print(f"{len(files)} files")
