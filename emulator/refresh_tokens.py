"""Refresh tokens, kept in the state folder so that restarting the emulator signs nobody out.

The Azure CLI keeps only a refresh token between commands: if the emulator forgot its refresh
tokens at every restart, each ``az`` call after one would fail with AADSTS70008 ("sign in
again"). Entra does not forget them either. Only SHA-256 digests are written, as for client
secrets: the file never holds a usable token.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path

# Entra's default: a refresh token stays valid for 90 days (and is replaced at each use).
LIFETIME = 90 * 24 * 3600
# Each refresh hands out a new token and Entra keeps the old one valid: bound the file's size.
MAX_KEPT = 2000


@dataclass
class RefreshGrant:
    user_oid: str
    client_id: str  # lower case
    expires: float


class RefreshTokens:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._grants: dict[str, RefreshGrant] = {}
        if path.exists():
            try:
                self._grants = {k: RefreshGrant(**v) for k, v in json.loads(path.read_text()).items()}
            except (ValueError, TypeError):
                self._grants = {}  # a damaged file signs everyone out, as a revocation would

    def issue(self, user_oid: str, client_id: str) -> str:
        token = secrets.token_urlsafe(48)
        now = time.time()
        kept = sorted(((k, v) for k, v in self._grants.items() if v.expires > now), key=lambda kv: kv[1].expires)
        self._grants = dict(kept[-(MAX_KEPT - 1) :])
        self._grants[self._digest(token)] = RefreshGrant(user_oid, client_id.lower(), now + LIFETIME)
        self._save()
        return token

    def get(self, token: str) -> RefreshGrant | None:
        grant = self._grants.get(self._digest(token))
        return grant if grant is not None and grant.expires > time.time() else None

    def _save(self) -> None:
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({k: asdict(v) for k, v in self._grants.items()}))
        temporary.chmod(0o600)
        os.replace(temporary, self.path)

    @staticmethod
    def _digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()
