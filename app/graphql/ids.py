"""Global IDs as the GraphQL layer takes them from clients: a malformed one is
``BAD_USER_INPUT``. How IDs are made is app/domain/ids.py."""

from __future__ import annotations

from app.domain.ids import MAX_PK, NODE_TYPES, decode, encode_id
from app.graphql.errors import BadUserInput

__all__ = ["MAX_PK", "NODE_TYPES", "decode_id", "decode_id_of", "encode_id", "pk_of"]


def decode_id(global_id: str) -> tuple[str, int]:
    """(type name, primary key); BAD_USER_INPUT for anything malformed."""
    found = decode(global_id)
    if found is None:
        raise BadUserInput(f"'{global_id[:100]}' is not a valid ID.")
    return found


def decode_id_of(global_id: str, expected: str) -> int | None:
    """The pk when the ID names ``expected``; None when it names another type."""
    type_name, pk = decode_id(global_id)
    return pk if type_name == expected else None


def pk_of(global_id: str | None, type_name: str, argument: str) -> int | None:
    """Decode an ID argument that must name ``type_name`` (BAD_USER_INPUT otherwise,
    naming ``argument``)."""
    if global_id is None:
        return None
    try:
        pk = decode_id_of(global_id, type_name)
    except BadUserInput as exc:
        raise BadUserInput(exc.message, argument=argument) from None
    if pk is None:
        raise BadUserInput(f"`{argument}` must be the ID of a {type_name}.", argument=argument)
    return pk
