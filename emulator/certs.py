"""Key material kept in the state directory, made with ``cryptography`` on first run.

- a local CA and a server certificate for ``localhost`` / ``127.0.0.1`` / ``::1`` (the SDKs refuse
  plain-HTTP authorities and vaults, so the emulator must speak TLS);
- ``ca-bundle.pem``: certifi's roots plus the local CA. ``REQUESTS_CA_BUNDLE`` *replaces* the trust
  store, so pointing it at the local CA alone would break every other HTTPS call.

The keys that sign tokens are in ``signing_keys.py``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_RENEW_BEFORE = dt.timedelta(days=7)


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    bundle: Path
    cert: Path
    key: Path


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # also when the file already existed with another mode
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _pem_key(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _read_key(path: Path) -> PrivateKeyTypes:
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def _wrong_key(path: Path, key: PrivateKeyTypes, wanted: str) -> SystemExit:
    """Only a hand-edited state folder gets here."""
    return SystemExit(f"{path} holds a {type(key).__name__}, not {wanted}: delete it and a new one is made")


def _load_ec_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = _read_key(path)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise _wrong_key(path, key, "an EC key")
    return key


def _load_cert(path: Path) -> x509.Certificate | None:
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None
    if cert.not_valid_after_utc - _RENEW_BEFORE < dt.datetime.now(dt.UTC):
        return None
    return cert


def _builder(subject: x509.Name, issuer: x509.Name, public_key, days: int) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def ensure_tls(state: Path) -> TlsFiles:
    """Create (or renew) the CA and server certificate; always rebuild the bundle from certifi."""
    files = TlsFiles(state / "ca.pem", state / "ca-bundle.pem", state / "server.pem", state / "server-key.pem")
    ca_key_path = state / "ca-key.pem"
    ca_cert = _load_cert(files.ca) if ca_key_path.exists() else None
    if ca_cert is None:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Functions auth suite local CA")])
        ca_cert = (
            _builder(name, name, ca_key.public_key(), 3650)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(ca_key, hashes.SHA256())
        )
        _write_private(ca_key_path, _pem_key(ca_key))
        files.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        files.cert.unlink(missing_ok=True)  # a new CA invalidates the old server certificate
    ca_key = _load_ec_key(ca_key_path)

    server_cert = _load_cert(files.cert) if files.key.exists() else None
    if server_cert is None or server_cert.issuer != ca_cert.subject:
        key = ec.generate_private_key(ec.SECP256R1())
        san = x509.SubjectAlternativeName(
            [
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("::1")),
            ]
        )
        server_cert = (
            _builder(
                x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]),
                ca_cert.subject,
                key.public_key(),
                397,
            )
            .add_extension(san, critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        _write_private(files.key, _pem_key(key))
        files.cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))

    roots = Path(certifi.where()).read_bytes()
    files.bundle.write_bytes(roots.rstrip(b"\n") + b"\n" + files.ca.read_bytes())
    return files
