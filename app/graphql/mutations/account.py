"""deleteAccount: the viewer deletes their own account (Danger Zone)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.schema_directive import Location
from strawberry.types.field import StrawberryField

from app.db import tenant
from app.domain.accounts import repository as accounts
from app.domain.accounts import service
from app.domain.accounts.service import DeletionPlan
from app.domain.errors import Refusal
from app.graphql.context import Info
from app.graphql.errors import Forbidden
from app.graphql.mutations.base import Payload, UserError, in_unit_of_work
from app.graphql.runtime import ExtensionResolver
from app.graphql.users import UserType
from app.graphql.workspaces import WorkspaceType


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="requiresUserToken",
    description="Only a user's own token may call this field; API keys are refused (FORBIDDEN).",
)
class RequiresUserToken:
    pass


class UserTokenGuard(FieldExtension):
    def apply(self, field: StrawberryField) -> None:
        field.directives.append(RequiresUserToken())

    async def resolve_async(
        self, next_: ExtensionResolver, source: Any, info: Info, **kwargs: Any
    ) -> Any:
        if info.context.viewer.api_key_id is not None:
            raise Forbidden("API keys cannot do this: use the account's own sign-in.")
        return await next_(source, info, **kwargs)


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
    @strawberry.mutation(
        description=(
            "Delete your own account: it is deactivated, every membership removed (deactivated "
            "ones too), API keys you created revoked, your tokens refused from then on; "
            "conversations and other content stay. Refused with CONFIRMATION_MISMATCH unless "
            "confirmation is exactly DELETE, and with SOLE_ADMIN when you are the only active "
            "Admin of a workspace (listed in blockingWorkspaces)."
        ),
        extensions=[UserTokenGuard()],
    )
    async def delete_account(self, info: Info, input: DeleteAccountInput) -> DeleteAccountPayload:
        ctx = info.context
        viewer = ctx.viewer
        ids = viewer.workspace_ids
        # Every membership goes, deactivated ones too: their workspaces are not in the
        # sign-in context (ACTIVE memberships only), so enter them all first; the unit of
        # work locks them all at once, in id order, before reading anything.
        async with ctx.db.session() as s:
            every = sorted({*ids, *await accounts.membership_workspace_ids(s, viewer.user_id)})
            await tenant.enter(s, user_id=viewer.user_id, workspace_ids=every)
        plan: list[DeletionPlan] = []

        async def work(s: Any, _: Any) -> DeletionPlan:
            try:
                result = await service.delete_account(
                    s,
                    _actor(info, _),
                    ids,
                    every,
                    confirmation=input.confirmation,
                    dry_run=input.dry_run,
                )
            except Refusal:
                if (
                    input.confirmation == service.CONFIRMATION
                ):  # SOLE_ADMIN: report the blocking workspaces
                    plan.append(await service.plan_deletion(s, viewer.user_id, ids, every))
                raise
            plan.append(result)
            return result

        # No per-workspace actor: deletion acts as the account, not within a workspace.
        outcome = await in_unit_of_work(info, [], None, work)
        for ws in every:
            ctx.forget(ws)
        if isinstance(outcome, Refusal) or input.dry_run:
            async with ctx.db.session() as s:  # nothing was removed: back to what sign-in allowed
                await tenant.enter(s, user_id=viewer.user_id, workspace_ids=ids)
        if isinstance(outcome, Refusal):
            blocking = plan[0].blocking if plan else []
            return DeleteAccountPayload(
                deleted=False,
                dry_run=input.dry_run,
                account=UserType.of(viewer.user),
                blocking_workspaces=[WorkspaceType.of(w) for w in blocking],
                user_errors=[UserError.of(outcome)],
            )
        return DeleteAccountPayload(
            deleted=not input.dry_run,
            dry_run=input.dry_run,
            account=UserType.of(outcome.user),
            removed_from=[WorkspaceType.of(w) for w in outcome.membership_workspaces],
            blocking_workspaces=[WorkspaceType.of(w) for w in outcome.blocking],
        )


def _actor(info: Info, actors: Any) -> Any:
    """Any of the per-workspace actors: deletion acts as the user, not within one workspace."""
    from app.auth.permissions import PermissionSet
    from app.domain.actor import Actor

    if actors:
        return next(iter(actors.values()))
    viewer = info.context.viewer
    return Actor(
        user_id=viewer.user_id,
        api_key_id=None,
        request_id=info.context.request_id,
        permissions=PermissionSet(()),
    )
