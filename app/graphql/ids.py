"""Opaque, type-tagged global IDs: base64url("<Type>:<pk>") without padding."""

from __future__ import annotations

import base64
import binascii

from app.graphql.errors import BadUserInput

NODE_TYPES = frozenset({"User", "Workspace", "Member", "Team", "Role", "Conversation"})


def encode_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def decode_id(global_id: str) -> tuple[str, int]:
    """(type name, primary key); BAD_USER_INPUT for anything malformed."""
    bad = BadUserInput(f"'{global_id[:100]}' is not a valid ID.")
    if not global_id or len(global_id) > 64:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise bad from exc
    type_name, sep, pk = raw.partition(":")
    if not sep or type_name not in NODE_TYPES or not pk.isdigit() or len(pk) > 18:
        raise bad
    return type_name, int(pk)


def decode_id_of(global_id: str, expected: str) -> int | None:
    """The pk when the ID names ``expected``; None when it names another type."""
    type_name, pk = decode_id(global_id)
    return pk if type_name == expected else None
