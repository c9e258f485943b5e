"""Deleting one's own account (Workspace Settings → Danger Zone)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.types import utcnow
from app.domain.accounts import writes
from app.domain.actor import Actor
from app.domain.changes import record_change
from app.domain.errors import Checks, Refusal, UserErrorCode
from app.domain.locks import lock_workspaces
from app.domain.members import writes as member_writes
from app.domain.users.repository import user_by_id
from app.domain.workspaces.repository import workspaces_by_ids
from app.models import User, UserStatus, Workspace, pk

CONFIRMATION = "DELETE"


@dataclass(frozen=True, slots=True)
class DeletionPlan:
    user: User
    membership_workspaces: list[Workspace]
    blocking: list[Workspace]  # where the user is the only active Admin


async def plan_deletion(
    session: AsyncSession, user_id: int, active_ids: Sequence[int], every_id: Sequence[int]
) -> DeletionPlan:
    """``active_ids``: the user's workspaces as authentication found them (ACTIVE
    memberships); ``every_id``: those of every membership, deactivated ones included
    (the session's tenant context must allow them all). All are locked before anything
    is read (the lock must come first; see app.domain.locks)."""
    await lock_workspaces(session, every_id)
    memberships = await member_writes.memberships_of_user_everywhere(session, user_id)
    workspace_ids = sorted({m.workspace_id for m in memberships} & set(active_ids))
    user = await user_by_id(session, user_id)
    assert user is not None
    blocking_ids = []
    for m in memberships:
        if await member_writes.active_admin_member_ids(session, m.workspace_id) == [pk(m)]:
            blocking_ids.append(m.workspace_id)
    workspaces = {pk(w): w for w in await workspaces_by_ids(session, workspace_ids)}
    return DeletionPlan(
        user=user,
        membership_workspaces=[workspaces[w] for w in workspace_ids],
        blocking=[workspaces[w] for w in blocking_ids],
    )


async def delete_account(
    session: AsyncSession,
    actor: Actor,
    active_ids: Sequence[int],
    every_id: Sequence[int],
    *,
    confirmation: str,
    dry_run: bool,
) -> DeletionPlan:
    """Deactivate the account and remove every membership it has, deactivated ones
    included (so no admin can reactivate a deleted account's membership), in one
    transaction; revoke the API keys it created.

    Refused when the confirmation is not exactly DELETE, or when the user is the only
    active Admin of any workspace (those are listed). Content stays in the workspaces.
    ``removedFrom`` (the plan's ``membership_workspaces``) lists the ACTIVE memberships
    only: the workspaces the viewer can still name in this request.
    """
    checks = Checks()
    if confirmation != CONFIRMATION and not dry_run:
        checks.add(
            Refusal(
                UserErrorCode.CONFIRMATION_MISMATCH,
                "Type DELETE (in capitals) to confirm.",
                ["input", "confirmation"],
            )
        )
    plan = await plan_deletion(session, actor.user_id, active_ids, every_id)
    if plan.blocking and not dry_run:
        slugs = ", ".join(w.slug for w in plan.blocking)
        checks.add(
            Refusal(
                UserErrorCode.SOLE_ADMIN,
                f"You are the only active Admin of: {slugs}. Assign another Admin there first.",
                ["input"],
            )
        )
    checks.done()
    if dry_run:
        return plan
    memberships = await member_writes.memberships_of_user_everywhere(session, actor.user_id)
    await member_writes.delete_memberships(session, [pk(m) for m in memberships])
    await writes.revoke_keys_created_by(session, actor.user_id)
    plan.user.status = UserStatus.DEACTIVATED
    plan.user.deactivated_at = utcnow()
    session.add(plan.user)
    await session.flush()
    for m in memberships:
        summary = {"email": plan.user.email, "memberId": pk(m)}
        await record_change(session, actor, m.workspace_id, "account.deleted", plan.user, summary)
    return plan
