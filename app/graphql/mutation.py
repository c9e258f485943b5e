"""What every mutation shares: its declaration on the Mutation field, the unit of work
(lock → re-check → change → commit, or roll back on a refusal), and ``userErrors``.

A mutation is declared once, on its field::

    TEAM = Target("Team", "team_id", missing=service.team_not_found)

    @mutation("Rename a team.", permission="teams:update:all", target=TEAM)

That one ``Declaration`` is read by everything that needs it: the SDL directive
(``@requiresPermission``), the guard that answers FORBIDDEN before any lookup, the
unit of work (``change``: the target's workspace and pk, the permission re-checked
under the lock), and the answer for a target out of reach (the target's ``missing``).
A resolver names no permission and builds no error payload.

Data flow: guard → resolver (decode input) → ``change(info, work)`` → service in
app.domain (rules and writes; records the change through app.domain.changes; raises
Refusal) → commit → the workspace's loaders are dropped so the payload reads the new
state. A Refusal from anywhere in the resolver becomes the field's payload with
``userErrors`` (``MutationField``), after the unit of work rolled back: a service runs
all its checks (app.domain.errors.Checks) and raises them together, so the payload
lists every problem, ordered by the input's fields (``UserError.all_of``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.extensions import FieldExtension
from strawberry.types.field import StrawberryField
from strawberry.utils.str_converters import to_camel_case

from app.auth.permissions import PermissionSet, parse_permission
from app.domain.actor import Actor
from app.domain.errors import Refusal, every_refusal
from app.domain.locks import lock_workspaces
from app.domain.members.service import current_permissions
from app.graphql.context import Context, Info
from app.graphql.directives import RequiresPermission, RequiresUserToken
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

    @classmethod
    def all_of(cls, refusal: Refusal, input: Any) -> list[UserError]:
        """Every problem ``refusal`` stands for, in the documented order: one about the
        whole input first, then by the input's fields as the schema lists them (a list's
        items by index), problems at the same place in the order their checks ran."""
        fields = _input_fields(type(input))

        def place(one: Refusal) -> tuple[int, int]:
            path = one.field or []
            if len(path) < 2:
                return (-1, -1)
            position = fields.index(path[1]) if path[1] in fields else len(fields)
            item = int(path[2]) if len(path) > 2 and path[2].isdigit() else -1
            return (position, item)

        return [cls.of(one) for one in sorted(every_refusal(refusal), key=place)]


def _input_fields(input_type: type) -> list[str]:
    """The GraphQL names of an input type's fields, in the schema's order."""
    definition = getattr(input_type, "__strawberry_definition__", None)
    if definition is None:
        return []
    return [f.graphql_name or to_camel_case(f.python_name) for f in definition.fields]


@strawberry.type(description="What every mutation payload carries.")
class Payload:
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing changed, if so (empty on success)."
    )


def not_found() -> Refusal:
    """The default answer for a target out of reach (or naming no row)."""
    return Refusal(UserErrorCode.NOT_FOUND, "Not found.", ["input"])


@dataclass(frozen=True, slots=True)
class Target:
    """What a mutation changes: the input ``attribute`` holding the global ID of the
    workspace or object, and the type it must name (an ID of another type answers like
    one that names no row, without a lookup). ``missing`` is the refusal for a target
    out of the viewer's reach, the same as for one that does not exist."""

    type_name: str
    attribute: str
    missing: Callable[[], Refusal] = not_found


WORKSPACE = Target("Workspace", "workspace_id")


@dataclass(frozen=True, slots=True)
class Declaration:
    """A Mutation field's declaration: the one place its permission and target are stated.

    ``permission`` None declares a change of the viewer's own account (a user token
    only, no workspace permission, no target)."""

    permission: str | None
    target: Target | None = None

    def __post_init__(self) -> None:
        if self.permission is not None:
            parse_permission(self.permission)  # a typo fails at import, not at request time
        if (self.permission is None) != (self.target is None):
            raise ValueError("a permission goes with a target, and only with one")


# The declaration and input of the Mutation field being resolved, set by its guard for
# the resolver's duration (root mutation fields run one at a time, each in this task).
_in_force: ContextVar[tuple[Declaration, Any] | None] = ContextVar("mutation", default=None)


def _declared() -> tuple[Declaration, Any]:
    """The declaration (and input) of the mutation whose resolver is running."""
    current = _in_force.get()
    if current is None:
        raise RuntimeError("a unit of work runs only inside a declared Mutation field")
    return current


class MutationField(FieldExtension):
    """A Mutation field's declaration at work: it prints as the field's directive, is
    checked before the resolver runs, is in force while it runs (for ``change`` and
    ``in_unit_of_work``), and turns a Refusal into the field's payload with
    ``userErrors`` — the one place refusals are mapped.

    The check never depends on whether the ID names a row (no existence oracle):

    - a Workspace target the viewer is an active member of: FORBIDDEN without the
      permission there (the viewer knows its own workspaces); any other workspace is
      left to ``change``, which answers ``missing``;
    - an object target: FORBIDDEN when the viewer holds the permission in none of its
      workspaces, whatever the ID; otherwise an object outside the workspaces where it
      is held is ``missing``, like one that does not exist (``change``);
    - the viewer's own account: FORBIDDEN for an API key.
    """

    def __init__(self, declaration: Declaration) -> None:
        self.declaration = declaration
        self.payload: type[Payload] = Payload

    def apply(self, field: StrawberryField) -> None:
        permission = self.declaration.permission
        field.directives.append(
            RequiresUserToken() if permission is None else RequiresPermission(permission=permission)
        )
        payload = field.type
        if not (isinstance(payload, type) and issubclass(payload, Payload)):
            raise TypeError(f"the mutation {field.python_name} must return a Payload")
        self.payload = payload

    def forbidden(self, ctx: Context, input: Any) -> str | None:
        """Why the viewer may not call this field at all, if so."""
        permission, target = self.declaration.permission, self.declaration.target
        if permission is None or target is None:
            if ctx.viewer.api_key_id is not None:
                return "API keys cannot do this: use the account's own sign-in."
            return None
        kind, pk = decode_id(getattr(input, target.attribute))
        if target.type_name == "Workspace":
            lacking = (
                kind == "Workspace"
                and ctx.viewer.membership(pk) is not None
                and not ctx.allows(pk, permission)
            )
        else:
            lacking = not any(ctx.allows(w, permission) for w in ctx.viewer.workspace_ids)
        return f"You need the permission {permission} in this workspace." if lacking else None

    async def resolve_async(
        self, next_: ExtensionResolver, source: Any, info: Info, **kwargs: Any
    ) -> Any:
        input = kwargs.get("input")
        reason = self.forbidden(info.context, input)
        if reason is not None:
            raise Forbidden(reason)
        token = _in_force.set((self.declaration, input))
        try:
            return await next_(source, info, **kwargs)
        except Refusal as refusal:
            return self.payload(user_errors=UserError.all_of(refusal, input))
        finally:
            _in_force.reset(token)


def mutation(description: str, *, permission: str, target: Target) -> Any:
    """A Mutation field changing a workspace: ``permission`` needed there, ``target``
    naming the workspace or the object changed."""
    declaration = Declaration(permission, target)
    return strawberry.mutation(description=description, extensions=[MutationField(declaration)])


def own_mutation(description: str) -> Any:
    """A Mutation field changing the viewer's own account: a user token only."""
    return strawberry.mutation(
        description=description, extensions=[MutationField(Declaration(None))]
    )


async def _workspace_of(ctx: Context, global_id: str, type_name: str) -> int | None:
    """The workspace the target lives in, among the viewer's; None otherwise (also when
    the ID names another type than ``type_name``)."""
    kind, pk = decode_id(global_id)
    if kind != type_name:
        return None
    if kind == "Workspace":
        return pk if ctx.viewer.membership(pk) is not None else None
    row = await ctx.nodes.load((kind, pk))
    return int(row.workspace_id) if row is not None and hasattr(row, "workspace_id") else None


async def change(info: Info, work: Callable[[AsyncSession, Actor, int, int], Awaitable[T]]) -> T:
    """Run ``work(session, actor, workspace_id, target_id)`` as one unit of work on the
    workspace of the declared target, or raise the Refusal (``target_id``: the pk of
    the declared target, the workspace's own for a Workspace target).

    A target not among the viewer's workspaces (or naming no row), or in a workspace
    where the viewer lacks the declared permission (the guard let it through because it
    is held elsewhere), is out of reach: the target's ``missing``, exactly like a target
    that does not exist.
    """
    declaration, input = _declared()
    target = declaration.target
    assert declaration.permission is not None and target is not None
    global_id = getattr(input, target.attribute)
    ws = await _workspace_of(info.context, global_id, target.type_name)
    if ws is None or not info.context.allows(ws, declaration.permission):
        raise target.missing()
    target_id = decode_id(global_id)[1]
    return await in_unit_of_work(info, [ws], lambda s, actors: work(s, actors[ws], ws, target_id))


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


def own_actor(info: Info) -> Actor:
    """The viewer acting as their own account, not within a workspace (no permissions)."""
    return Actor(
        user_id=info.context.viewer.user_id,
        api_key_id=None,
        request_id=info.context.request_id,
        permissions=PermissionSet(()),
    )


async def in_unit_of_work(
    info: Info,
    workspace_ids: Sequence[int],
    work: Callable[[AsyncSession, dict[int, Actor]], Awaitable[T]],
) -> T:
    """Run ``work(session, actors)`` as one transaction that first locks the workspaces
    and re-reads the viewer's permissions there (``actors``: one per workspace, holding
    the declared permission or FORBIDDEN); on a Refusal, roll back and raise it."""
    ctx = info.context
    permission = _declared()[0].permission
    # session: the unit of work holds the session (and its lock) for the whole change:
    #   lock, permission re-read, service, commit, with no other reader in between
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
        except Refusal:
            await session.commit()  # the savepoint is gone: this ends an empty transaction
            raise
        except BaseException:
            await session.rollback()
            raise
    for ws in workspace_ids:
        ctx.forget(ws)
    return result


# No row has this pk (they start at 1): what an ID of another type decodes to, so that the
# service answers it exactly like an ID naming no row, among the rest of its checks.
NO_ROW = 0


def input_pk(global_id: str, type_name: str) -> int:
    """The pk of an input ID that must name ``type_name``; ``NO_ROW`` for another type's."""
    kind, pk = decode_id(global_id)
    return pk if kind == type_name else NO_ROW


def input_pks(global_ids: Sequence[str], type_name: str) -> list[int]:
    return [input_pk(g, type_name) for g in global_ids]


INPUT_DESCRIPTION = (
    "The mutation's input. A value it refuses comes back in `userErrors`, at its `field` "
    "path, and nothing changes; a malformed ID is a `BAD_USER_INPUT` request error."
)


def describe_inputs(mutation_type: type) -> None:
    """Give every ``input`` argument that says nothing of itself the common description."""
    for field in mutation_type.__strawberry_definition__.fields:  # type: ignore[attr-defined]
        for argument in field.arguments:
            if argument.python_name == "input" and not argument.description:
                argument.description = INPUT_DESCRIPTION
