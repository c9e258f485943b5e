"""The one way repositories start a query on a tenant table.

Every SQL statement on a table that carries ``workspace_id`` begins with
``scoped(Model, workspace_id)``; the scope lint walks every statement of app/ and fails
on one that bypasses it without a ``# scope: <reason>`` escape (tests/test_scope_lint.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import SQLModel, select
from sqlmodel.sql.expression import SelectOfScalar

from app.db.prepared import Prepared, any_of
from app.db.rows import RowShape
from app.db.types import id_column, table_of

M = TypeVar("M", bound=SQLModel)
R = TypeVar("R")
# A workspace id: a value, or a bound parameter of a prepared read.
WorkspaceId = int | sa.ColumnElement[int]


def _workspace_column(model: type[SQLModel]) -> sa.ColumnElement[int]:
    column: sa.ColumnElement[int] = table_of(model).c.workspace_id
    return column


def scoped(model: type[M], workspace_id: WorkspaceId) -> SelectOfScalar[M]:
    """``SELECT model WHERE model.workspace_id = :workspace_id``."""
    return select(model).where(_workspace_column(model) == workspace_id)


def among(model: type[M], workspace_ids: Sequence[int]) -> SelectOfScalar[M]:
    """``SELECT model WHERE model.workspace_id IN (:workspace_ids)`` — for lookups by
    global ID, where the workspace is learnt from the row (always the viewer's own)."""
    return select(model).where(_workspace_column(model).in_(list(workspace_ids)))


def lean(stmt: sa.Select[Any], *models: type[SQLModel]) -> sa.Select[Any]:
    """The same statement selecting the tables' columns instead of ORM entities: rows
    come back as light ``Row`` tuples with attribute access (``row.name``), without ORM
    hydration. For read paths that only read attributes; a service that changes a row
    loads the entity."""
    columns = [c for m in models for c in table_of(m).columns]
    return stmt.with_only_columns(*columns)


def scoped_update(model: type[M], workspace_id: int) -> sa.Update:
    """``UPDATE model … WHERE model.workspace_id = :workspace_id``."""
    return sa.update(model).where(_workspace_column(model) == workspace_id)


def scoped_delete(model: type[M], workspace_id: int) -> sa.Delete:
    """``DELETE FROM model WHERE model.workspace_id = :workspace_id``."""
    return sa.delete(model).where(_workspace_column(model) == workspace_id)


def rows_by_ids(model: type[M], row: RowShape[R]) -> Prepared[R]:
    """A prepared read of ``model``'s lean rows in ``:workspace_id`` whose id is one of
    ``:ids`` (the read path's loaders; a service that changes a row loads the entity)."""
    column = id_column(model)
    return Prepared(
        f"{model.__tablename__}_by_ids",
        lambda dialect: lean(
            scoped(model, sa.bindparam("workspace_id", type_=sa.Integer)).where(
                any_of(dialect, column, "ids")
            ),
            model,
        ),
        row,
    )
