"""The token-signing keys: several published at once, one signing, rolled over as Entra rolls them.

Entra publishes more than one key in every key set, starts signing with a new one without a promised
notice, and in an emergency withdraws a key at once. Here:

- ``add`` makes a key and publishes it (every key set lists it) without signing with it;
- ``use`` signs new tokens with a published key;
- ``retire`` withdraws a key: it leaves the key sets, and tokens signed by it no longer verify here
  either (Key Vault, on-behalf-of, federated assertions refuse them, as Entra does);
- ``roll`` is add + use; an emergency roll also retires the key that was signing.

Keys live in ``STATE/signing-keys/`` (private keys 0600) with an index, so they survive restarts and
tokens issued before a restart still verify. Each key has a self-signed certificate for the key set's
``x5c``; ``kid`` and ``x5t`` are its base64url SHA-1 thumbprint, as Entra's are.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

INDEX = "keys.json"
LEGACY = ("signing-key.pem", "signing-cert.pem")  # the one key of state folders made before rollover


class KeyRollError(ValueError):
    """A key operation that cannot be done (unknown kid, retiring the signing key); the message says why."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint_b64(n: int) -> str:
    return _b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class SigningKey:
    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    created: int = 0  # epoch seconds

    @property
    def kid(self) -> str:
        """Entra uses the base64url SHA-1 thumbprint of the certificate as both ``kid`` and ``x5t``."""
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        return _b64url(hashlib.sha1(der).digest())  # noqa: S324 - x5t is SHA-1 by spec

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    def jwk(self) -> dict:
        """The key as a key set lists it (without the ``issuer`` property, which depends on the set)."""
        numbers = self.public_key.public_numbers()
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": _uint_b64(numbers.n),
            "e": _uint_b64(numbers.e),
            "x5c": [base64.b64encode(der).decode()],
        }


def _new_key() -> SigningKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "accounts.localhost token signing")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return SigningKey(key, cert, int(time.time()))


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


class SigningKeys:
    """The published keys, in the order they were added, and the one that signs."""

    def __init__(self, state_dir: Path) -> None:
        self.folder = state_dir / "signing-keys"
        self.folder.mkdir(mode=0o700, exist_ok=True)
        self._keys: dict[str, SigningKey] = {}
        self.current_kid = ""
        index = self.folder / INDEX
        if index.exists():
            saved = json.loads(index.read_text())
            for entry in saved["keys"]:
                key = self._read(entry["kid"], int(entry.get("created", 0)))
                self._keys[key.kid] = key
            self.current_kid = saved["current"]
        elif (state_dir / LEGACY[0]).exists() and (state_dir / LEGACY[1]).exists():
            key = self._adopt(state_dir / LEGACY[0], state_dir / LEGACY[1])
            self._keys[key.kid] = key
            self.current_kid = key.kid
        if self.current_kid not in self._keys:  # a fresh state folder, or a hand-edited index
            key = _new_key()
            self._keys[key.kid] = key
            self.current_kid = key.kid
        self._save()

    # -- reading ------------------------------------------------------------------------------

    @property
    def current(self) -> SigningKey:
        return self._keys[self.current_kid]

    @property
    def published(self) -> list[SigningKey]:
        return list(self._keys.values())

    def get(self, kid: object) -> SigningKey | None:
        return self._keys.get(kid) if isinstance(kid, str) else None

    def summary(self) -> list[dict]:
        return [
            {"kid": k.kid, "x5t": k.kid, "signing": k.kid == self.current_kid, "created": k.created}
            for k in self._keys.values()
        ]

    # -- rolling ------------------------------------------------------------------------------

    def add(self) -> SigningKey:
        key = _new_key()
        self._keys[key.kid] = key
        self._save()
        return key

    def use(self, kid: str) -> SigningKey:
        key = self._published(kid)
        self.current_kid = key.kid
        self._save()
        return key

    def retire(self, kid: str) -> SigningKey:
        key = self._published(kid)
        if kid == self.current_kid:
            raise KeyRollError(f"{kid} signs new tokens: `use` another key first, or `roll --emergency`")
        del self._keys[kid]
        self._save()
        for suffix in (".pem", ".crt"):
            (self.folder / f"{kid}{suffix}").unlink(missing_ok=True)
        return key

    def roll(self, *, emergency: bool) -> tuple[SigningKey, SigningKey | None]:
        """The new signing key, and the key retired with it (emergency only)."""
        previous = self.current_kid
        key = self.use(self.add().kid)
        return key, self.retire(previous) if emergency else None

    # -- files --------------------------------------------------------------------------------

    def _published(self, kid: str) -> SigningKey:
        key = self.get(kid)
        if key is None:
            raise KeyRollError(f"no published key {kid[:64]!r}; `keys list` shows them")
        return key

    def _read(self, kid: str, created: int) -> SigningKey:
        key = serialization.load_pem_private_key((self.folder / f"{kid}.pem").read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise SystemExit(f"{self.folder / kid}.pem is not an RSA key: delete {self.folder} and new keys are made")
        cert = x509.load_pem_x509_certificate((self.folder / f"{kid}.crt").read_bytes())
        return SigningKey(key, cert, created)

    def _adopt(self, key_path: Path, cert_path: Path) -> SigningKey:
        """Keep signing with an older state folder's key, so the tokens it issued still verify."""
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            return _new_key()
        return SigningKey(key, x509.load_pem_x509_certificate(cert_path.read_bytes()), int(time.time()))

    def _save(self) -> None:
        for key in self._keys.values():
            pem = self.folder / f"{key.kid}.pem"
            if not pem.exists():
                _write_private(
                    pem,
                    key.private_key.private_bytes(
                        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                    ),
                )
                (self.folder / f"{key.kid}.crt").write_bytes(key.certificate.public_bytes(serialization.Encoding.PEM))
        keys = [{"kid": k.kid, "created": k.created} for k in self._keys.values()]
        index = {"current": self.current_kid, "keys": keys}
        temporary = self.folder / f"{INDEX}.tmp"
        temporary.write_text(json.dumps(index, indent=2))
        temporary.replace(self.folder / INDEX)  # a crash mid-write leaves the old index, never half of one
