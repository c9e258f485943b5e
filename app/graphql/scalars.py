"""Scalars whose input rules are the API's own (strawberry's defaults for the rest).

``DateTime`` is an instant: its input must carry a time zone offset (``Z`` or
``+02:00``) and fall within the calendar once in UTC. A value without one names no
instant (is it the client's noon or the server's?) and could not be compared with the
stored UTC times; it is refused while the variables are coerced (``BAD_USER_INPUT``,
nothing runs), for every DateTime argument alike.
"""

from __future__ import annotations

from datetime import UTC, datetime

from graphql import GraphQLError
from strawberry.types.scalar import ScalarDefinition

EXAMPLE = "2026-11-02T15:00:00Z"


def parse_instant(value: object) -> datetime:
    """The instant; a GraphQLError (its message is the client's) for anything else."""
    if not isinstance(value, str):
        raise GraphQLError(f'A DateTime is a string such as "{EXAMPLE}".')
    shown = f'DateTime "{value[:64]}"'
    try:
        moment = datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        raise GraphQLError(f"{shown} is not an ISO 8601 date and time.") from None
    if moment.tzinfo is None:
        raise GraphQLError(f'{shown} has no time zone offset: add one, as in "{EXAMPLE}".')
    try:
        moment.astimezone(UTC)  # stored and compared in UTC
    except OverflowError:
        raise GraphQLError(f"{shown} is out of range.") from None
    return moment


DateTime = ScalarDefinition(
    name="DateTime",
    description=f"An instant: ISO 8601 date and time with a time zone offset ({EXAMPLE}).",
    specified_by_url=None,
    serialize=datetime.isoformat,
    parse_value=parse_instant,
    parse_literal=None,
    origin=datetime,
)
