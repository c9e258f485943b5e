"""Opaque, type-tagged global IDs: base64url("<Type>:<pk>") without padding."""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache

from app.graphql.errors import BadUserInput

NODE_TYPES = frozenset({"User", "Workspace", "Member", "Team", "Role", "Conversation", "ApiKey"})

# Primary keys are 32-bit INTEGER columns: a larger number could never name a row, and
# PostgreSQL refuses to bind it (which would surface as a 500, not as a bad argument).
MAX_PK = 2**31 - 1


@lru_cache(maxsize=65536)  # pure: the same (type, pk) always encodes the same way
def encode_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def decode_id(global_id: str) -> tuple[str, int]:
    """(type name, primary key); BAD_USER_INPUT for anything malformed.

    Only the exact strings ``encode_id`` produces are accepted (no padding, no stray
    characters, no leading zeros, ASCII digits only), so every object has one ID.
    """
    bad = BadUserInput(f"'{global_id[:100]}' is not a valid ID.")
    if not global_id or len(global_id) > 64 or not global_id.isascii():
        raise bad
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise bad from exc
    type_name, sep, digits = raw.partition(":")
    if not sep or type_name not in NODE_TYPES or not digits.isascii() or not digits.isdigit():
        raise bad
    pk = int(digits)
    if not 1 <= pk <= MAX_PK or encode_id(type_name, pk) != global_id:
        raise bad
    return type_name, pk


def decode_id_of(global_id: str, expected: str) -> int | None:
    """The pk when the ID names ``expected``; None when it names another type."""
    type_name, pk = decode_id(global_id)
    return pk if type_name == expected else None
