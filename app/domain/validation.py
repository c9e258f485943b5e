"""Input rules shared by the services: text lengths, characters and unique names.

No string reaching a service holds U+0000: the edge refuses it in every argument
(app.edge.analysis, ``NUL``). The other control characters (C0, DEL, C1) are refused
here, by the fields that store text: a single-line value (a name, an e-mail address, a
model name) holds none; multi-line text (a description, the handbook's Markdown) may
hold tabs and line breaks only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from app.domain.errors import Checks, Refusal, UserErrorCode
from app.models import pk

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # not \t \n \r


def check_characters(value: str, path: Sequence[str | int], *, multiline: bool = False) -> str:
    """The value; INVALID_VALUE when it holds a control character it may not."""
    if (CONTROL_IN_TEXT if multiline else CONTROL).search(value):
        allowed = " other than tabs and line breaks" if multiline else ""
        raise Refusal(
            UserErrorCode.INVALID_VALUE,
            f"`{path[-1]}` cannot hold control characters{allowed}.",
            list(path),
        )
    return value


def check_text(
    value: str, field: str, limit: int, *, required: bool, multiline: bool = False
) -> str:
    """The value stripped; INVALID_VALUE when blank but required or holding a control
    character (tabs and line breaks allowed when ``multiline``), TOO_LONG over ``limit``."""
    value = value.strip()
    if required and not value:
        raise Refusal(UserErrorCode.INVALID_VALUE, f"`{field}` cannot be blank.", ["input", field])
    if len(value) > limit:
        raise Refusal(
            UserErrorCode.TOO_LONG, f"`{field}` is limited to {limit} characters.", ["input", field]
        )
    return check_characters(value, ["input", field], multiline=multiline)


def require_free_name(other: Any | None, own_id: int | None, what: str, name: str) -> None:
    """NAME_TAKEN when ``other`` (the row already using the name) is not the one renamed."""
    if other is not None and pk(other) != own_id:
        raise Refusal(
            UserErrorCode.NAME_TAKEN, f"A {what} named {name} already exists.", ["input", "name"]
        )


def report_missing(
    checks: Checks, ids: Sequence[int], found: set[int], field: str, what: str
) -> list[int]:
    """NOT_FOUND at each item of the input list ``field`` not ``found`` in the
    workspace; returns the found ids, sorted."""
    for i, one in enumerate(ids):
        if one not in found:
            checks.add(
                Refusal(
                    UserErrorCode.NOT_FOUND,
                    f"No such {what} in this workspace.",
                    ["input", field, i],
                )
            )
    return sorted(found)
