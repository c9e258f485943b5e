"""Settings → Users: edit, deactivate, reactivate and remove members (adding one is an
invitation: app.domain.invitations.service).

Every function runs inside the caller's unit of work, after the workspace lock
(app.domain.locks), and raises Refusal before writing anything when a rule says no.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import PermissionSet, admin_permissions
from app.db.types import utcnow
from app.domain.actor import Actor
from app.domain.api_keys.writes import revoke_keys_of_member
from app.domain.changes import record_change
from app.domain.errors import Checks, Refusal, UserErrorCode
from app.domain.members import writes
from app.domain.members.repository import members_by_ids
from app.domain.roles.repository import granted_permissions, roles_by_ids
from app.domain.teams.repository import teams_by_ids
from app.domain.users.repository import user_by_id
from app.domain.validation import report_missing
from app.models import BuiltinRole, Member, MemberStatus, Role, UserStatus, pk


@dataclass(frozen=True, slots=True)
class MemberChange:
    role_id: int | None = None
    team_ids: Sequence[int] | None = None


async def role_permissions(session: AsyncSession, role: Role) -> list[str]:
    if role.builtin == BuiltinRole.ADMIN:
        return sorted(admin_permissions())
    return (await granted_permissions(session, [(role.workspace_id, pk(role))])).get(pk(role), [])


async def find_member(
    session: AsyncSession, workspace_id: int, member_id: int, field: str = "memberId"
) -> Member:
    found = await members_by_ids(session, workspace_id, [member_id])
    if not found:
        raise Refusal(
            UserErrorCode.NOT_FOUND, "No such member in this workspace.", ["input", field]
        )
    return found[0]


async def find_role(
    session: AsyncSession, workspace_id: int, role_id: int, field: str = "roleId"
) -> Role:
    found = await roles_by_ids(session, workspace_id, [role_id])
    if not found:
        raise Refusal(UserErrorCode.NOT_FOUND, "No such role in this workspace.", ["input", field])
    return found[0]


async def check_teams(
    session: AsyncSession, workspace_id: int, team_ids: Sequence[int], checks: Checks
) -> list[int]:
    """The teams' ids, sorted; NOT_FOUND at each one not in the workspace."""
    found = {pk(t) for t in await teams_by_ids(session, workspace_id, sorted(set(team_ids)))}
    return report_missing(checks, team_ids, found, "teamIds", "team")


def escalates(held: PermissionSet, role_permissions: Iterable[str]) -> bool:
    """The escalation rule: a role holding more than ``held`` can be neither handed out
    nor taken from someone (nor can its holder be deactivated or removed)."""
    return not held.covers(role_permissions)


async def require_grantable(
    session: AsyncSession, actor: Actor, role: Role, field: Sequence[str]
) -> None:
    if escalates(actor.permissions, await role_permissions(session, role)):
        raise Refusal(
            UserErrorCode.ESCALATION,
            f"You cannot assign or change the role {role.name}: it holds permissions you do not hold.",
            field,
        )


def holds_an_admin_seat(status: MemberStatus, builtin: BuiltinRole | None) -> bool:
    """An ACTIVE member with the Admin role: one the last-admin rule may protect."""
    return status == MemberStatus.ACTIVE and builtin == BuiltinRole.ADMIN


def is_last_admin(
    member_id: int, status: MemberStatus, builtin: BuiltinRole | None, admins: Sequence[int]
) -> bool:
    """The last-admin rule: is this member the workspace's only ACTIVE Admin (``admins``:
    the ACTIVE Admins' member ids)? Such a member keeps the role and stays ACTIVE."""
    return holds_an_admin_seat(status, builtin) and list(admins) == [member_id]


async def require_other_admin(
    session: AsyncSession, workspace_id: int, member: Member, role: Role, field: Sequence[str]
) -> None:
    """The workspace keeps at least one ACTIVE Admin (read only for an Admin seat)."""
    if not holds_an_admin_seat(member.status, role.builtin):
        return
    admins = await writes.active_admin_member_ids(session, workspace_id)
    if is_last_admin(pk(member), member.status, role.builtin, admins):
        raise Refusal(
            UserErrorCode.SOLE_ADMIN,
            "This member is the workspace's only active Admin: assign another Admin first.",
            field,
        )


async def update_member(
    session: AsyncSession, workspace_id: int, actor: Actor, member_id: int, change: MemberChange
) -> Member:
    member = await find_member(session, workspace_id, member_id)
    current_role = await find_role(session, workspace_id, member.role_id)
    checks = Checks()
    new_role = None
    if change.role_id is not None and change.role_id != member.role_id:
        new_role = await checks.run_async(find_role, session, workspace_id, change.role_id)
        await checks.run_async(
            require_grantable, session, actor, current_role, ["input", "memberId"]
        )
        if new_role is not None:
            await checks.run_async(require_grantable, session, actor, new_role, ["input", "roleId"])
        await checks.run_async(
            require_other_admin, session, workspace_id, member, current_role, ["input", "roleId"]
        )
    if change.team_ids is not None:
        teams = await check_teams(session, workspace_id, change.team_ids, checks)
    checks.done()
    summary: dict[str, object] = {}
    if new_role is not None:
        summary["role"] = {"before": current_role.name, "after": new_role.name}
        member.role_id = pk(new_role)
    if change.team_ids is not None:
        await writes.set_teams(session, workspace_id, pk(member), teams)
        summary["teamIds"] = {"after": teams}
    if summary:
        session.add(member)
        action = "member.role_changed" if "role" in summary else "member.teams_changed"
        await record_change(session, actor, workspace_id, action, member, summary)
    return member


async def set_member_status(
    session: AsyncSession, workspace_id: int, actor: Actor, member_id: int, status: MemberStatus
) -> Member:
    member = await find_member(session, workspace_id, member_id)
    if member.status == status:
        return member  # already so: nothing changes, nothing to record
    role = await find_role(session, workspace_id, member.role_id)
    await require_grantable(session, actor, role, ["input", "memberId"])
    if status == MemberStatus.DEACTIVATED:
        await require_other_admin(session, workspace_id, member, role, ["input", "memberId"])
    before = member.status
    member.status = status
    member.deactivated_at = utcnow() if status == MemberStatus.DEACTIVATED else None
    session.add(member)
    action = "member.deactivated" if status == MemberStatus.DEACTIVATED else "member.reactivated"
    summary = {"status": {"before": before.value, "after": status.value}}
    await record_change(session, actor, workspace_id, action, member, summary)
    if status == MemberStatus.DEACTIVATED:
        # Revoked, not merely unusable while deactivated: reactivation brings the member
        # back, never the keys.
        await revoke_keys_of_member(session, workspace_id, actor, member.user_id, reason=action)
    return member


async def remove_member(
    session: AsyncSession, workspace_id: int, actor: Actor, member_id: int
) -> int:
    """Delete the membership (and its team memberships); revoke the API keys its user
    created here. Their conversations and other content stay. Refused for the last
    active Admin (yourself included) and, as for any change of a member, for a member
    whose role holds more than the actor. Returns the removed membership's id."""
    member = await find_member(session, workspace_id, member_id)
    role = await find_role(session, workspace_id, member.role_id)
    await require_grantable(session, actor, role, ["input", "memberId"])
    await require_other_admin(session, workspace_id, member, role, ["input", "memberId"])
    removed, user_id, status = pk(member), member.user_id, member.status
    user = await user_by_id(session, user_id)
    await revoke_keys_of_member(session, workspace_id, actor, user_id, reason="member.removed")
    await writes.delete_member(session, workspace_id, removed)
    summary = {
        "email": user.email if user is not None else None,
        "role": role.name,
        "status": status.value,
    }
    await record_change(
        session, actor, workspace_id, "member.removed", ("Member", removed), summary
    )
    return removed


async def current_permissions(
    session: AsyncSession, workspace_id: int, user_id: int
) -> PermissionSet | None:
    """What the user holds in the workspace right now (None: no ACTIVE membership or
    account). Re-read under the workspace lock, so a change decided by a concurrent
    request (a demotion, a deactivation) is seen before acting."""
    member = await writes.member_of_user(session, workspace_id, user_id)
    user = await user_by_id(session, user_id)
    if (
        member is None
        or member.status != MemberStatus.ACTIVE
        or user is None
        or user.status != UserStatus.ACTIVE
    ):
        return None
    role = await find_role(session, workspace_id, member.role_id)
    return PermissionSet(await role_permissions(session, role))
