"""deleteAccount: the viewer deletes their own account (Danger Zone)."""

from __future__ import annotations

from collections.abc import Sequence

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.accounts import service
from app.domain.accounts.service import DeletionPlan
from app.domain.errors import Refusal, UserErrorCode, every_refusal
from app.graphql.context import Info
from app.graphql.mutation import (
    Payload,
    UserError,
    in_unit_of_work,
    own_actor,
    own_mutation,
)
from app.graphql.users.types import UserType
from app.graphql.workspaces.types import WorkspaceType
from app.models import Workspace


@strawberry.input(description="Confirm the deletion of your own account.")
class DeleteAccountInput:
    confirmation: str = strawberry.field(description="Must be exactly DELETE (unless dryRun).")
    dry_run: bool = strawberry.field(
        default=False,
        description="Only report what would happen (blocking workspaces); change nothing.",
    )


@strawberry.type(description="Result of deleteAccount.")
class DeleteAccountPayload(Payload):
    deleted: bool = strawberry.field(
        default=False, description="True when the account was deactivated now."
    )
    dry_run: bool = strawberry.field(default=False, description="Echo of input.dryRun.")
    account: UserType | None = strawberry.field(
        default=None, description="The account (DEACTIVATED if deleted)."
    )
    removed_from: list[WorkspaceType] = strawberry.field(
        default_factory=list, description="Workspaces whose membership is (or would be) removed."
    )
    blocking_workspaces: list[WorkspaceType] = strawberry.field(
        default_factory=list,
        description="Workspaces where you are the only active Admin: deletion is refused until another Admin exists.",
    )


@strawberry.type
class AccountMutations:
    @own_mutation(
        "Delete your own account: it is deactivated, every membership removed (deactivated "
        "ones too), API keys you created revoked, your tokens refused from then on; "
        "conversations and other content stay. Refused with CONFIRMATION_MISMATCH unless "
        "confirmation is exactly DELETE, and with SOLE_ADMIN when you are the only active "
        "Admin of a workspace (listed in blockingWorkspaces)."
    )
    async def delete_account(self, info: Info, input: DeleteAccountInput) -> DeleteAccountPayload:
        ctx = info.context
        viewer = ctx.viewer
        ids = viewer.workspace_ids
        # Every membership goes, deactivated ones too: their workspaces are not in the
        # sign-in context (ACTIVE memberships only), so enter them all first; the unit of
        # work locks them all at once, in id order, before reading anything.
        every = sorted({*ids, *await ctx.own.membership_workspace_ids()})
        await ctx.db.enter(user_id=viewer.user_id, workspace_ids=every)
        blocking: list[Workspace] = []

        async def work(s: AsyncSession, _: object) -> DeletionPlan:
            try:
                return await service.delete_account(
                    s,
                    own_actor(info),
                    ids,
                    every,
                    confirmation=input.confirmation,
                    dry_run=input.dry_run,
                )
            except Refusal as refusal:
                if any(r.code == UserErrorCode.SOLE_ADMIN for r in every_refusal(refusal)):
                    plan = await service.plan_deletion(s, viewer.user_id, ids, every)  # name them
                    blocking.extend(plan.blocking)
                raise

        # The account acts, not a member of one workspace: no per-workspace actor.
        try:
            plan = await in_unit_of_work(info, [], work)
        except Refusal as refusal:
            await _forget_and_leave(info, every, ids)
            return DeleteAccountPayload(  # the one refusal that says more than userErrors
                dry_run=input.dry_run,
                account=UserType.of(viewer.user),
                blocking_workspaces=[WorkspaceType.of(w) for w in blocking],
                user_errors=UserError.all_of(refusal, input),
            )
        await _forget_and_leave(info, every, ids if input.dry_run else None)
        return DeleteAccountPayload(
            deleted=not input.dry_run,
            dry_run=input.dry_run,
            account=UserType.of(plan.user),
            removed_from=[WorkspaceType.of(w) for w in plan.membership_workspaces],
            blocking_workspaces=[WorkspaceType.of(w) for w in plan.blocking],
        )


async def _forget_and_leave(info: Info, every: list[int], back_to: Sequence[int] | None) -> None:
    """Drop the loaders of every workspace touched; when nothing was removed (a refusal,
    a dry run), go back to the tenant context sign-in allowed (``back_to``)."""
    ctx = info.context
    for ws in every:
        ctx.forget(ws)
    if back_to is not None:
        await ctx.db.enter(user_id=ctx.viewer.user_id, workspace_ids=back_to)
