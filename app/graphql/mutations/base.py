"""What every mutation shares: the permission declaration on the Mutation field, the
unit of work (lock → re-check → change → audit → commit, or roll back on a refusal),
and ``userErrors``.

Data flow: resolver (decode input) → ``change()`` → service in app.domain (rules and
writes; raises Refusal) → commit → loaders of the workspace are dropped so the
payload reads the new state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.extensions import FieldExtension
from strawberry.types.field import StrawberryField

from app.auth.permissions import PermissionSet, parse_permission
from app.domain.actor import Actor
from app.domain.errors import Refusal
from app.domain.locks import lock_workspaces
from app.domain.members.service import current_permissions
from app.graphql.context import Context, Info
from app.graphql.directives import RequiresPermission
from app.graphql.enums import UserErrorCode
from app.graphql.errors import Forbidden
from app.graphql.ids import decode_id
from app.graphql.runtime import ExtensionResolver

T = TypeVar("T")


@strawberry.type(description="A refusal: the mutation changed nothing.")
class UserError:
    code: UserErrorCode = strawberry.field(description="Machine-readable reason.")
    message: str = strawberry.field(description="Human-readable explanation.")
    field: list[str] | None = strawberry.field(
        description='Path of the input at fault, e.g. ["input", "permissions", "2"]; null when it is the whole input.'
    )

    @classmethod
    def of(cls, refusal: Refusal) -> UserError:
        return cls(code=refusal.code, message=refusal.message, field=refusal.field)


@strawberry.type(description="What every mutation payload carries.")
class Payload:
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing changed, if so (empty on success)."
    )


class Targeted(Protocol):
    def target(self) -> str:
        """The global ID that names the workspace or object this input changes."""
        ...

    # Optional, beside ``target``: ``def target_type(self) -> str`` names the type the
    # target must be ("Workspace", "Team", …). An ID of another type then answers
    # exactly like one that names no row (without a lookup).


def target_type(input: Any) -> str:
    """The type an input's target must name: declared, or else the type its ID names."""
    declared = getattr(input, "target_type", None)
    return str(declared()) if declared is not None else decode_id(input.target())[0]


async def workspace_of(ctx: Context, global_id: str, type_name: str | None = None) -> int | None:
    """The workspace an input's target lives in, among the viewer's; None otherwise
    (also when ``type_name`` is given and the ID names another type)."""
    kind, pk = decode_id(global_id)
    if type_name is not None and kind != type_name:
        return None
    if kind == "Workspace":
        return pk if ctx.viewer.membership(pk) is not None else None
    row = await ctx.nodes.load((kind, pk))
    return int(row.workspace_id) if row is not None and hasattr(row, "workspace_id") else None


async def target_workspace(ctx: Context, input: Targeted) -> int | None:
    """The workspace of the input's target (of its declared type), among the viewer's."""
    return await workspace_of(ctx, input.target(), target_type(input))


class MutationGuard(FieldExtension):
    """``@requiresPermission`` on a Mutation field, decided before any lookup so that
    the answer never depends on whether the ID names a row (no existence oracle):

    - a Workspace target the viewer is an active member of: FORBIDDEN without the
      permission there (the viewer knows its own workspaces); any other workspace is
      left to the resolver, which answers NOT_FOUND;
    - an object target: FORBIDDEN when the viewer holds the permission in none of its
      workspaces, whatever the ID; otherwise an object outside the workspaces where it
      is held is NOT_FOUND, like one that does not exist (``change``)."""

    def __init__(self, permission: str) -> None:
        parse_permission(permission)
        self.permission = permission
        self.directive = RequiresPermission(permission=permission)

    def apply(self, field: StrawberryField) -> None:
        field.directives.append(self.directive)

    async def resolve_async(
        self, next_: ExtensionResolver, source: Any, info: Info, **kwargs: Any
    ) -> Any:
        ctx, input = info.context, kwargs["input"]
        kind, pk = decode_id(input.target())
        if target_type(input) == "Workspace":
            lacking = (
                kind == "Workspace"
                and ctx.viewer.membership(pk) is not None
                and not ctx.allows(pk, self.permission)
            )
        else:
            lacking = not any(ctx.allows(w, self.permission) for w in ctx.viewer.workspace_ids)
        if lacking:
            raise Forbidden(f"You need the permission {self.permission} in this workspace.")
        return await next_(source, info, **kwargs)


def mutation(description: str, permission: str) -> Any:
    return strawberry.mutation(description=description, extensions=[MutationGuard(permission)])


async def change(
    info: Info,
    workspace_id: int | None,
    permission: str,
    work: Callable[[AsyncSession, Actor, int], Awaitable[T]],
    *,
    missing: Refusal | None = None,
) -> T | Refusal:
    """Run ``work(session, actor, workspace_id)`` as one unit of work on the workspace,
    or return the Refusal.

    ``workspace_id`` None (the target is not among the viewer's workspaces, or names no
    row), or a workspace where the viewer lacks ``permission`` (the guard let it through
    because it is held elsewhere), means the target is out of reach: ``missing`` (by
    default NOT_FOUND on the whole input), exactly like a target that does not exist.
    """
    if workspace_id is None or not info.context.allows(workspace_id, permission):
        return missing or Refusal(UserErrorCode.NOT_FOUND, "Not found.", ["input"])
    ws = workspace_id
    return await in_unit_of_work(info, [ws], permission, lambda s, actors: work(s, actors[ws], ws))


async def _actor(
    ctx: Context, session: AsyncSession, workspace_id: int, permission: str | None
) -> Actor:
    """The actor as of now, under the lock: a concurrent demotion or deactivation
    decided a moment ago is seen here, not the state authentication saw."""
    viewer = ctx.viewer
    held = await current_permissions(session, workspace_id, viewer.user_id)
    membership = viewer.membership(workspace_id)
    if held is None or membership is None:
        raise Forbidden("You are no longer an active member of this workspace.")
    if viewer.api_key_id is not None:  # a key holds at most what it was given
        held = PermissionSet(p for p in membership.granted if held.allows(p))
    if permission is not None and not held.allows(permission):
        raise Forbidden(f"You need the permission {permission} in this workspace.")
    return Actor(
        user_id=viewer.user_id,
        api_key_id=viewer.api_key_id,
        request_id=ctx.request_id,
        permissions=held,
        member_id=membership.member_id,
    )


async def in_unit_of_work(
    info: Info,
    workspace_ids: Sequence[int],
    permission: str | None,
    work: Callable[[AsyncSession, dict[int, Actor]], Awaitable[T]],
) -> T | Refusal:
    ctx = info.context
    async with ctx.db.session() as session:
        # End the request's read transaction: the lock must be the first thing the
        # change's own transaction does.
        await session.commit()
        try:
            # A savepoint, so that a refusal rolls back only what the change touched
            # (objects read earlier in the request stay loaded and usable).
            async with session.begin_nested():
                await lock_workspaces(session, workspace_ids)
                actors = {ws: await _actor(ctx, session, ws, permission) for ws in workspace_ids}
                result = await work(session, actors)
            await session.commit()
        except Refusal as refusal:
            await session.commit()  # the savepoint is gone: this ends an empty transaction
            return refusal
        except BaseException:
            await session.rollback()
            raise
    for ws in workspace_ids:
        ctx.forget(ws)
    return result


def input_pk(global_id: str, type_name: str, field: Sequence[str | int]) -> int:
    """The pk of an input ID that must name ``type_name``; NOT_FOUND otherwise."""
    kind, pk = decode_id(global_id)
    if kind != type_name:
        raise Refusal(UserErrorCode.NOT_FOUND, f"Not a {type_name} ID.", ["input", *field])
    return pk


def input_pks(global_ids: Sequence[str], type_name: str, field: str) -> list[int]:
    return [input_pk(g, type_name, [field, i]) for i, g in enumerate(global_ids)]
