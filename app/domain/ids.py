"""Opaque, type-tagged global IDs: how a row's public name is made (app/graphql/ids.py
takes them from clients; webhook payloads name rows by them too).

An ID is one AES block under the process's ID key (app/auth/keys.py), base64url
without padding (22 characters). The block holds a type tag (1 byte), the primary key
(8 bytes, big-endian) and 7 zero bytes that decoding checks. AES on a single block is a
keyed pseudorandom permutation: without the key, IDs of consecutive keys look unrelated
and unordered, so they reveal neither the shared key sequence (how many rows other
workspaces created) nor creation order; an edited or invented ID fails the check bytes
(but for a 2**-56 chance, and then names a row the viewer must still be allowed to see).
"""

from __future__ import annotations

import base64
import binascii
import struct
import threading
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

from app.auth.keys import GLOBAL_ID_KEY, derived_key

# Tags are part of every ID ever issued: never renumber or reuse one; a new type takes
# the next free number.
_NODE_TAGS = {
    "User": 1,
    "Workspace": 2,
    "Member": 3,
    "Team": 4,
    "Role": 5,
    "Conversation": 6,
    "ApiKey": 7,
    "Invitation": 8,
    "ShareLink": 9,
    "WebhookEndpoint": 10,
    "WebhookDelivery": 11,
}
# Types that have IDs (AuditEvent.target names them) but are not Nodes: decoding refuses
# them like any unknown type.
_OTHER_TAGS = {"Integration": 64, "AuditEvent": 65}
_TAGS = {**_NODE_TAGS, **_OTHER_TAGS}
_NODE_BY_TAG = {tag: name for name, tag in _NODE_TAGS.items()}

NODE_TYPES = frozenset(_NODE_TAGS)

# Primary keys are 32-bit INTEGER columns: a larger number could never name a row, and
# PostgreSQL refuses to bind it (which would surface as a 500, not as a bad argument).
MAX_PK = 2**31 - 1

_HEAD = struct.Struct(">BQ")  # tag, pk; then the check bytes
_CHECK = bytes(16 - _HEAD.size)
_ID_LENGTH = 22  # base64 of 16 bytes, unpadded


@lru_cache(maxsize=1)
def _block_cipher() -> tuple[CipherContext, CipherContext, threading.Lock]:
    # ECB over exactly one block is AES itself, the permutation we want (no chaining,
    # no IV: the same object always gets the same ID). One encryptor and one decryptor
    # for the process; a context is not safe to share between threads, hence the lock.
    cipher = Cipher(algorithms.AES(derived_key(GLOBAL_ID_KEY)), modes.ECB())  # noqa: S305 (one block)
    return cipher.encryptor(), cipher.decryptor(), threading.Lock()


@lru_cache(maxsize=65536)  # pure: the same (type, pk) always encodes the same way
def encode_id(type_name: str, pk: int) -> str:
    try:
        block = _HEAD.pack(_TAGS[type_name], pk) + _CHECK
    except KeyError:
        raise ValueError(f"{type_name} has no ID tag: add it to app/domain/ids.py") from None
    encryptor, _, lock = _block_cipher()
    with lock:
        sealed = encryptor.update(block)
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def decode(global_id: str) -> tuple[str, int] | None:
    """(type name, primary key) of a Node's ID; None for anything malformed.

    Only the exact strings ``encode_id`` produces are accepted (no padding, no other
    spelling of the same bytes), so every object has one ID.
    """
    if len(global_id) == _ID_LENGTH and global_id.isascii():
        try:
            sealed = base64.urlsafe_b64decode(global_id + "==")
        except (binascii.Error, ValueError):
            sealed = b""
        if len(sealed) == 16:
            _, decryptor, lock = _block_cipher()
            with lock:
                block = decryptor.update(sealed)
            tag, pk = _HEAD.unpack_from(block)
            type_name = _NODE_BY_TAG.get(tag)
            if (
                type_name is not None
                and block[_HEAD.size :] == _CHECK
                and 1 <= pk <= MAX_PK
                and encode_id(type_name, pk) == global_id
            ):
                return type_name, pk
    return None
