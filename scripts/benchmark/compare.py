"""Whether two servers answered the same ``data``: the floor's and the peers' against
the gateway's. The gateway's global IDs are keyed encryptions of ("Type", pk); the
floor and the peers write the plain base64url("Type:pk") (``queries.gid``), so IDs are
compared by the object they name."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

IdReader = Callable[[str], Any]


def plain_id(global_id: str) -> tuple[str, int]:
    """The (type, pk) of a plain base64url("Type:pk") ID (the floor's and the peers')."""
    raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    type_name, _, digits = raw.partition(":")
    return type_name, int(digits)


def same_objects(data: Any, read_id: IdReader) -> Any:
    """``data`` with every ``id`` replaced by the (type, pk) it names, read by ``read_id``."""
    if isinstance(data, dict):
        return {
            k: read_id(v) if k == "id" and isinstance(v, str) else same_objects(v, read_id)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [same_objects(v, read_id) for v in data]
    return data


def first_difference(expected: Any, got: Any, path: str = "data") -> str | None:
    """Where ``got`` first departs from ``expected`` (a path and both values), or None."""
    if isinstance(expected, dict) and isinstance(got, dict):
        for key in [*expected, *(k for k in got if k not in expected)]:
            if key not in got:
                return f"{path}.{key}: missing (expected {expected[key]!r})"
            if key not in expected:
                return f"{path}.{key}: not expected (got {got[key]!r})"
            found = first_difference(expected[key], got[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(expected, list) and isinstance(got, list):
        for i, (a, b) in enumerate(zip(expected, got, strict=False)):
            found = first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        if len(expected) != len(got):
            return f"{path}: {len(got)} items, expected {len(expected)}"
        return None
    if expected != got or type(expected) is not type(got):
        return f"{path}: {got!r}, expected {expected!r}"
    return None


def data_difference(
    gateway_data: Any, other_data: Any, gateway_id: IdReader, other_id: IdReader = plain_id
) -> str | None:
    """How another server's ``data`` differs from the gateway's (None: the same objects,
    in the same order, with the same fields and values)."""
    try:
        other = same_objects(other_data, other_id)
    except (ValueError, UnicodeDecodeError) as exc:
        return f"an ID that is not base64url('Type:pk'): {exc}"
    return first_difference(same_objects(gateway_data, gateway_id), other)
