"""What the running emulator remembers: secrets it issued, codes, refresh tokens, the managed
identity cache, pending device codes, and what it has seen (counters and recent tokens, for tests and the home page).

The server runs one asyncio event loop and every handler is ``async`` without awaits in the
middle of a state change, so nothing here needs a lock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

import jwt

from .consent import ConsentStore
from .directory import Directory
from .refresh_tokens import RefreshTokens
from .tokens import TokenIssuer

RECENT_TOKENS = 50


@dataclass
class Config:
    origin: str  # https://localhost:PORT: issuer, authority, vault URL
    state_dir: Path
    identity_header: str
    system_identity: str  # the managed identity /msi/token answers for without client_id
    msi_cache: bool = True
    device_code_lifetime: int = 900  # Entra: 15 minutes to enter the code
    device_code_interval: int = 5  # Entra: poll every 5 s


@dataclass
class DeviceCode:
    """A device code flow in progress: pending until someone signs in with ``user_code``."""

    device_code: str
    user_code: str
    client_id: str
    scope: str
    expires: float
    user_oid: str | None = None  # set when approved
    redeemed: bool = False
    tenant_id: str | None = None  # the tenant the path named; None for organizations/common


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str
    user_oid: str
    scope: str
    code_challenge: str | None
    code_challenge_method: str
    nonce: str | None
    expires: float
    redeemed: bool = False


class ClientSecrets:
    """Secrets made by ``credential-reset`` (like ``az ad app credential reset``), stored hashed.

    The value is shown once, when created; the state directory keeps only SHA-256 digests.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._hashes: dict[str, list[str]] = json.loads(path.read_text()) if path.exists() else {}

    def create(self, app_id: str) -> str:
        value = secrets.token_urlsafe(30)
        self._hashes.setdefault(app_id.lower(), []).append(self._digest(value))
        self.path.touch(mode=0o600)
        self.path.chmod(0o600)  # before the digests are in it
        self.path.write_text(json.dumps(self._hashes))
        return value

    def verify(self, app_id: str, value: str) -> bool:
        digest = self._digest(value)
        return any(hmac.compare_digest(digest, h) for h in self._hashes.get(app_id.lower(), []))

    @staticmethod
    def _digest(value: str) -> str:
        return hashlib.sha256(value.encode()).hexdigest()


@dataclass
class Activity:
    """Counters and a short history, so tests can ask "how many OBO exchanges happened?"."""

    counters: Counter = field(default_factory=Counter)
    recent: deque = field(default_factory=lambda: deque(maxlen=RECENT_TOKENS))

    def count(self, *keys: str) -> None:
        for key in keys:
            self.counters[key] += 1

    def issued(self, kind: str, claims: dict) -> None:
        """Remember the claims (never the token) of an issued token."""
        shown = (
            "aud",
            "iss",
            "ver",
            "appid",
            "azp",
            "oid",
            "upn",
            "preferred_username",
            "roles",
            "scp",
            "idtyp",
            "exp",
            "iat",
        )
        self.recent.appendleft(
            {"kind": kind, "at": int(time.time()), "claims": {k: claims[k] for k in shown if k in claims}}
        )


class State:
    def __init__(self, config: Config, directory: Directory, issuer: TokenIssuer) -> None:
        self.config = config
        self.directory = directory
        self.issuer = issuer
        self.client_secrets = ClientSecrets(config.state_dir / "client-secrets.json")
        # Kept across restarts and resets, as Entra keeps them: a reset must not sign az out.
        self.refresh_tokens = RefreshTokens(config.state_dir / "refresh-tokens.json")
        # Kept across restarts, as Entra keeps enterprise applications; a reset forgets them.
        self.consents = ConsentStore(config.state_dir / "consents.json")
        self.reset(keep_consents=True)

    def reset(self, *, keep_consents: bool = False) -> None:
        """Back to a just-started emulator (the file's assignments, empty caches and counters), and
        back to directory.json's tenants unless ``keep_consents`` (a start keeps the consents given)."""
        self.directory.reset()
        if keep_consents:
            self.consents.replay(self.directory)
        else:
            self.consents.clear()
        self.activity = Activity()
        self.codes: dict[str, AuthCode] = {}
        self.device_codes: dict[str, DeviceCode] = {}  # by device_code
        # When device codes were issued, and when a code or password was wrong on /devicelogin (limits).
        self.device_codes_issued: deque[float] = deque()
        self.device_login_failures: deque[float] = deque()
        # (identity object id, resource exactly as requested) -> (token, expires_on, claims)
        self.msi_cache: dict[tuple[str, str], tuple[str, int, dict]] = {}

    def forget_tokens_signed_by(self, kid: str) -> int:
        """A retired key's tokens leave the managed identity cache, or every app holding one would get
        it back for a day after the API refused it. Returns how many went."""
        stale = [k for k, (token, _, _) in self.msi_cache.items() if jwt.get_unverified_header(token).get("kid") == kid]
        for key in stale:
            del self.msi_cache[key]
        return len(stale)
