"""The one lock every change takes: the rows of the workspaces it touches, in id order.

Taken first in the transaction, before anything is read, so the checks that follow
(the last-admin rule above all) see the state no concurrent change can alter until
this transaction ends. Two changes of the same workspace therefore run one after
the other; changes of different workspaces do not wait for each other. Ordered
locking means two multi-workspace changes cannot deadlock.

PostgreSQL: ``SELECT … FOR UPDATE`` on the workspace rows. SQLite has one writer at
a time: a no-op UPDATE takes the database's write lock up front.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.models import Workspace


# scope: `workspaces` is keyed by its own id: the rows of the workspaces the write is in
async def lock_workspaces(session: AsyncSession, workspace_ids: Iterable[int]) -> None:
    ids = sorted(set(workspace_ids))
    if not ids:
        return
    in_ids = col(Workspace.id).in_(ids)
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(
            sa.update(Workspace)
            .where(in_ids)
            .values(id=Workspace.id)
            .execution_options(synchronize_session=False)
        )
        return
    await session.execute(
        sa.select(col(Workspace.id)).where(in_ids).order_by(col(Workspace.id)).with_for_update()
    )
