"""What validating a token costs, and how often the tenant's keys are fetched.

- µs per validation of a token seen before (the cached path every call after a client's first)
  and of a new token (full PyJWT decode), against a bare ``cryptography`` RS256 verify of the same
  token: the floor any validator pays. Target for the warm path: at most 1.5x the bare verify.
- JWKS fetches at the emulator after 10,000 validations of 1,000 distinct tokens: target exactly 1.

    python bench/auth_validation.py
"""

from __future__ import annotations

import base64
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from auth import AuthSettings, TokenValidator
from tests.auth.token_factory import TokenFactory
from tests.emulator_process import EmulatorProcess, clear_machine_ca_settings


def per_call_us(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    clear_machine_ca_settings()
    with tempfile.TemporaryDirectory() as tmp:
        emulator = EmulatorProcess(Path(tmp), Path("directory.json"))
        try:
            os.environ.update(emulator.env)
            claims = TokenFactory(emulator.origin)  # the claims' shape; the emulator signs them
            settings = AuthSettings(
                emulator.tenant,
                emulator.origin,
                (emulator.app_id("notification-api"), "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api"),
            )
            tokens = [emulator.mint(claims.app_claims(uti=str(i))) for i in range(1000)]
            emulator.reset()

            validator = TokenValidator(settings)
            token = tokens[0]
            validator.validate(token)  # first sight: keys fetched, token cached
            warm = per_call_us(lambda: validator.validate(token), 20_000)

            cold_validator = TokenValidator(settings, cache_size=0)
            cold_validator.validate(token)
            cold = per_call_us(lambda: cold_validator.validate(token), 2_000)

            key = jwks_key(emulator, token)
            signing_input, signature = token.rsplit(".", 1)
            raw_signature = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))

            def bare() -> None:
                key.verify(raw_signature, signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())

            bare_us = per_call_us(bare, 20_000)

            before = emulator.stats().get("jwks:fetch", 0)
            counting = TokenValidator(settings)
            for _ in range(10):
                for t in tokens:
                    counting.validate(t)
            fetches = emulator.stats().get("jwks:fetch", 0) - before
        finally:
            emulator.stop()
    print(f"\nPython {platform.python_version()}, {os.cpu_count()} cores, {len(token)}-character v1 token, RSA-2048\n")
    print("| what | µs per token | × bare verify |")
    print("|---|---:|---:|")
    for name, value in (
        ("bare `cryptography` RS256 verify", bare_us),
        ("TokenValidator, token seen before", warm),
        ("TokenValidator, new token (full PyJWT decode)", cold),
    ):
        print(f"| {name} | {value:.1f} | {value / bare_us:.2f} |")
    print(f"\nJWKS fetches during 10,000 validations of 1,000 distinct tokens: {fetches}")


def jwks_key(emulator: EmulatorProcess, token: str):
    jwks = emulator.session.get(f"{emulator.authority}/discovery/v2.0/keys").json()
    kid = jwt.get_unverified_header(token)["kid"]
    return jwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == kid)).key


if __name__ == "__main__":
    main()
