"""Endpoint signing secrets: ``whsec_`` and the base64 of 24 random bytes (the form the
Standard Webhooks libraries take), shown once and stored sealed.

The gateway must recompute each delivery's HMAC, so it keeps the secret itself, not a
hash: sealed with AES-GCM under a key derived from the gateway's identifier secret
(``ID_SECRET``, else ``JWT_SECRET``: app/auth/keys.py), bound to the endpoint's
workspace. A copy of the database alone does not reveal a secret; changing that secret
makes every stored one unreadable (rotate each endpoint's secret afterwards).
"""

from __future__ import annotations

import base64
import secrets
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.auth.keys import derived_key

PREFIX = "whsec_"
SECRET_BYTES = 24
_KEY_LABEL = "harmony/webhook-secret/v1"
_NONCE_BYTES = 12


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


@lru_cache(maxsize=1)
def _cipher() -> AESGCM:
    return AESGCM(derived_key(_KEY_LABEL))


def seal(secret: str, workspace_id: int) -> str:
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = _cipher().encrypt(nonce, secret.encode(), str(workspace_id).encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(sealed: str, workspace_id: int) -> str:
    raw = base64.urlsafe_b64decode(sealed)
    nonce, body = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
    return _cipher().decrypt(nonce, body, str(workspace_id).encode()).decode()
