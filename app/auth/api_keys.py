"""API key secrets: ``hmy_<prefix>_<secret>``. Only a SHA-256 hash is stored; the
prefix is the public lookup handle. Pure functions."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

KEY_MARKER = "hmy_"
_PREFIX_BYTES = 6  # 8 url-safe characters
_SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class NewApiKey:
    secret: str  # shown once, never stored
    prefix: str
    secret_hash: str


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_api_key() -> NewApiKey:
    prefix = secrets.token_urlsafe(_PREFIX_BYTES).replace("_", "x").replace("-", "y")
    secret = f"{KEY_MARKER}{prefix}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    return NewApiKey(secret=secret, prefix=prefix, secret_hash=hash_secret(secret))


def looks_like_api_key(token: str) -> bool:
    return token.startswith(KEY_MARKER)


def prefix_of(secret: str) -> str | None:
    body = secret[len(KEY_MARKER) :]
    prefix, sep, rest = body.partition("_")
    # Issued prefixes are ASCII letters and digits: anything else (a NUL byte, which
    # PostgreSQL cannot even compare) names no key.
    if not sep or not rest or not (0 < len(prefix) <= 16 and prefix.isascii() and prefix.isalnum()):
        return None
    return prefix
