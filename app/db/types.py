"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import QueryableAttribute
from sqlmodel import SQLModel

T = TypeVar("T")


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both engines (SQLite stores naive UTC)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store timezone-aware UTC values")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def enum_column(enum_cls: type[enum.Enum], name: str, **kwargs: Any) -> sa.Column[Any]:
    """A VARCHAR with a CHECK constraint listing the enum's values (portable, no PG type)."""
    return sa.Column(
        sa.Enum(
            enum_cls,
            name=name,
            native_enum=False,
            create_constraint=True,
            length=max(len(m.value) for m in enum_cls),
            values_callable=lambda cls: [m.value for m in cls],
            validate_strings=True,
        ),
        **kwargs,
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


def table_of(model: type[SQLModel]) -> sa.Table:
    """A table model's ``Table`` (its ``__table__``, which SQLModel does not declare to
    type checkers). The scope lint treats ``table_of(Model)`` as ``Model.__table__``."""
    table = sa.inspect(model).local_table
    assert isinstance(table, sa.Table), f"{model.__name__} is not a table model"
    return table


def column_of(attribute: T) -> sa.ColumnElement[T]:
    """The SQL column of a model's attribute, as a column (``.key``, ``.type``), for what
    reads those: a page's order (app.domain.pagination). SQLModel types ``Model.x`` as its
    Python value; ``sqlmodel.col`` gives an expression, without them."""
    assert isinstance(attribute, QueryableAttribute), f"not a model's column: {attribute!r}"
    expression: sa.ColumnElement[T] = attribute.expression
    return expression


def id_column(model: type[SQLModel]) -> sa.ColumnElement[int]:
    """A table model's ``id`` column: NOT NULL in the table, though the model types it
    ``int | None`` (None before an insert assigns it)."""
    column: sa.ColumnElement[int] = table_of(model).c.id
    return column
