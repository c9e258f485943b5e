"""Custom roles: create, edit, delete. The built-in Admin never changes; the built-in
Member's permissions may be edited (not its name)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import InvalidPermissionError, expand_for_display, parse_permission
from app.domain.actor import Actor
from app.domain.changes import note_change, record_change
from app.domain.errors import Checks, Refusal, UserErrorCode
from app.domain.members.repository import member_counts_by_role
from app.domain.members.service import escalates, role_permissions
from app.domain.roles import writes
from app.domain.roles.repository import roles_by_ids
from app.domain.validation import check_text, require_free_name
from app.models import BuiltinRole, Role, pk

NAME_MAX = 64
DESCRIPTION_MAX = 500


def role_not_found() -> Refusal:
    """The one answer for a role out of the actor's reach: in another workspace, in one
    where it may not change roles, or no such role."""
    return Refusal(UserErrorCode.NOT_FOUND, "No such role in this workspace.", ["input", "roleId"])


async def find_role(session: AsyncSession, workspace_id: int, role_id: int) -> Role:
    found = await roles_by_ids(session, workspace_id, [role_id])
    if not found:
        raise role_not_found()
    return found[0]


def check_permissions(
    actor: Actor, permissions: Sequence[str], checks: Checks, field: str = "permissions"
) -> list[str]:
    """The permissions deduplicated; at each item, INVALID_PERMISSION for one not
    catalogued, else ESCALATION for one beyond what the actor holds."""
    for i, text in enumerate(permissions):
        try:
            parse_permission(text)
        except InvalidPermissionError as exc:
            checks.add(Refusal(UserErrorCode.INVALID_PERMISSION, str(exc), ["input", field, i]))
            continue
        if not actor.permissions.covers([text]):
            checks.add(
                Refusal(
                    UserErrorCode.ESCALATION,
                    f"You cannot grant {text}: you do not hold it.",
                    ["input", field, i],
                )
            )
    return sorted(set(permissions))


async def _check_name(
    session: AsyncSession, workspace_id: int, name: str, checks: Checks, role_id: int | None = None
) -> str:
    """The name trimmed, checked (text rules, then free in the workspace)."""
    name = checks.value(check_text, name, "name", NAME_MAX, required=True)
    await _check_name_free(session, workspace_id, name, checks, role_id)
    return name


async def _check_name_free(
    session: AsyncSession, workspace_id: int, name: str, checks: Checks, role_id: int | None
) -> None:
    """NAME_TAKEN unless the name already failed its own rules."""
    if not checks.refused("name"):
        other = await writes.role_named(session, workspace_id, name)
        checks.run(require_free_name, other, role_id, "role", name)


def _check_description(description: str, checks: Checks) -> str:
    return checks.value(
        check_text, description, "description", DESCRIPTION_MAX, required=False, multiline=True
    )


async def create_role(
    session: AsyncSession,
    workspace_id: int,
    actor: Actor,
    *,
    name: str,
    description: str,
    permissions: Sequence[str],
) -> Role:
    checks = Checks()
    name = await _check_name(session, workspace_id, name, checks)
    description = _check_description(description, checks)
    granted = check_permissions(actor, permissions, checks)
    checks.done()
    role = Role(workspace_id=workspace_id, name=name, description=description)
    session.add(role)
    await session.flush()
    await writes.set_permissions(session, workspace_id, pk(role), granted)
    summary = {"name": name, "permissions": expand_for_display(granted)}
    await record_change(session, actor, workspace_id, "role.created", role, summary)
    return role


def editable(builtin: BuiltinRole | None) -> bool:
    """Every role but the built-in Admin can be edited."""
    return builtin != BuiltinRole.ADMIN


def deletable(builtin: BuiltinRole | None) -> bool:
    """Only custom roles can be deleted..."""
    return builtin is None


def unused(holders: int) -> bool:
    """...and only while nobody holds them (ROLE_IN_USE)."""
    return holders == 0


async def update_role(
    session: AsyncSession,
    workspace_id: int,
    actor: Actor,
    role_id: int,
    *,
    name: str | None,
    description: str | None,
    permissions: Sequence[str] | None,
) -> Role:
    role = await find_role(session, workspace_id, role_id)
    if not editable(role.builtin):
        raise Refusal(
            UserErrorCode.BUILTIN_ROLE_IMMUTABLE,
            "The built-in Admin role cannot be edited.",
            ["input", "roleId"],
        )
    checks = Checks()
    if name is not None:
        name = checks.value(check_text, name, "name", NAME_MAX, required=True)
        if name != role.name and not checks.refused("name"):
            if role.builtin is not None:
                checks.add(
                    Refusal(
                        UserErrorCode.BUILTIN_ROLE_IMMUTABLE,
                        "Built-in roles cannot be renamed.",
                        ["input", "name"],
                    )
                )
            await _check_name_free(session, workspace_id, name, checks, pk(role))
    if description is not None:
        description = _check_description(description, checks)
    if permissions is not None:
        granted = check_permissions(actor, permissions, checks)
        before = await role_permissions(session, role)
        # Editing a role that holds more than you would let you strip or reshape it.
        if escalates(actor.permissions, before):
            checks.add(
                Refusal(
                    UserErrorCode.ESCALATION,
                    "This role holds permissions you do not hold.",
                    ["input", "roleId"],
                )
            )
    checks.done()
    summary: dict[str, object] = {}
    note_change(summary, role, "name", name)
    note_change(summary, role, "description", description)
    if permissions is not None and sorted(before) != granted:
        await writes.set_permissions(session, workspace_id, pk(role), granted)
        summary["permissions"] = {
            "before": expand_for_display(before),
            "after": expand_for_display(granted),
        }
    if summary:
        session.add(role)
        await record_change(session, actor, workspace_id, "role.updated", role, summary)
    return role


async def delete_role(session: AsyncSession, workspace_id: int, actor: Actor, role_id: int) -> int:
    role = await find_role(session, workspace_id, role_id)
    if not deletable(role.builtin):
        raise Refusal(
            UserErrorCode.BUILTIN_ROLE_IMMUTABLE,
            "Built-in roles cannot be deleted.",
            ["input", "roleId"],
        )
    holders = (await member_counts_by_role(session, workspace_id, [pk(role)])).get(pk(role), 0)
    if not unused(holders):
        raise Refusal(
            UserErrorCode.ROLE_IN_USE,
            f"{holders} member(s) still hold this role: give them another role first.",
            ["input", "roleId"],
        )
    if escalates(actor.permissions, await role_permissions(session, role)):
        raise Refusal(
            UserErrorCode.ESCALATION,
            "This role holds permissions you do not hold.",
            ["input", "roleId"],
        )
    await session.delete(role)
    await record_change(session, actor, workspace_id, "role.deleted", role, {"name": role.name})
    return role_id
