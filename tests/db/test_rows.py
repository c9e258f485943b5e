"""The row types of read paths (app/models/rows.py) say what the rows really have: each
table's protocol names its columns with the model's types, and a prepared read whose
statement lacks a column its row type names is refused when it first compiles, on
both engines."""

from __future__ import annotations

import typing

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, select

from app import models
from app.db.prepared import Prepared
from app.db.rows import RowShape
from app.db.types import table_of
from app.domain.rows import USER_ROW
from app.domain.tenant import lean
from app.models import rows

# Each table's row type, and the columns a read path leaves out of it.
TABLE_ROWS: list[tuple[type[SQLModel], type, frozenset[str]]] = [
    (models.User, rows.UserRow, frozenset()),
    (models.Workspace, rows.WorkspaceRow, frozenset({"handbook"})),
    (models.Member, rows.MemberRow, frozenset()),
    (models.Role, rows.RoleRow, frozenset()),
    (models.Team, rows.TeamRow, frozenset()),
    (models.Conversation, rows.ConversationRow, frozenset()),
    (models.ConversationParticipant, rows.ParticipantRow, frozenset()),
    (models.ConversationInsight, rows.InsightRow, frozenset()),
    (models.ActionItem, rows.ActionItemRow, frozenset()),
    (models.ShareLink, rows.ShareLinkRow, frozenset()),
    (models.AIProvider, rows.AIProviderRow, frozenset()),
]


def _declared(protocol: type) -> dict[str, object]:
    """The protocol's attributes and their types."""
    return {
        name: typing.get_type_hints(value.fget, vars(rows))["return"]
        for name, value in vars(protocol).items()
        if isinstance(value, property) and value.fget is not None
    }


@pytest.mark.parametrize(("model", "protocol", "left_out"), TABLE_ROWS)
def test_a_tables_row_type_names_its_columns_with_the_models_types(
    model: type[SQLModel], protocol: type, left_out: frozenset[str]
) -> None:
    columns = [c.key for c in table_of(model).columns if c.key not in left_out]
    declared = _declared(protocol)
    assert list(declared) == columns
    expected = {name: model.model_fields[name].annotation for name in columns}
    expected["id"] = int  # a stored row's id (the model's None: not yet inserted)
    assert declared == expected


async def test_a_read_missing_a_column_of_its_row_type_is_refused(session: AsyncSession) -> None:
    no_email = Prepared(
        "test_no_email",
        lambda _: lean(select(models.User), models.User).with_only_columns(
            table_of(models.User).c.id, table_of(models.User).c.name
        ),
        USER_ROW,
    )
    with pytest.raises(TypeError) as refused:
        await no_email.all(session)
    assert str(refused.value) == (
        "test_no_email selects no ['avatar_url', 'created_at', 'deactivated_at', 'email',"
        " 'sessions_valid_after', 'status'] of UserRow"
    )


def test_a_row_shape_names_the_protocols_attributes_its_bases_included() -> None:
    class Named(typing.Protocol):
        @property
        def name(self) -> str: ...

    class Counted(Named, typing.Protocol):
        @property
        def total(self) -> int: ...

    shape = RowShape[Counted](Counted)
    assert shape.names == {"name", "total"}
    shape.check(["total", "name", "extra"], "read")
    with pytest.raises(TypeError, match=r"read selects no \['name'\] of Counted"):
        shape.check(sa.select(sa.literal(1).label("total")).selected_columns.keys(), "read")
