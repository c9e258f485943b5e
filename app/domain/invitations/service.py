"""Invitations: a workspace invites an e-mail address (addMember); the person whose
account has that address accepts (and becomes a member) or declines; an admin may
revoke it before then.

The inviting workspace learns nothing about accounts: ``invite`` never reads one, so
its answer, its refusals and its audit event are the same whether an account exists
for the address, was deleted, or never existed. The only facts it uses are the
workspace's own: a member of this workspace with that address (ALREADY_MEMBER), a
pending invitation for it (ALREADY_INVITED).

Every function runs inside the caller's unit of work, after the lock of the
invitation's workspace (app.domain.locks), and raises Refusal before writing anything
when a rule says no. For ``accept`` and ``decline`` the caller has first checked that
the invitation is addressed to the viewer and entered its workspace's tenant context
(the invitee is not a member yet); both re-read the invitation under the lock.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.actor import Actor
from app.domain.changes import record_change
from app.domain.errors import Checks, Refusal, UserErrorCode
from app.domain.invitations import repository
from app.domain.members import writes as member_writes
from app.domain.members.service import check_teams, find_role, require_grantable
from app.domain.roles import writes as role_writes
from app.domain.roles.repository import roles_by_ids
from app.domain.teams.repository import teams_by_ids
from app.domain.users.service import InvalidEmailError, normalize_email
from app.models import BuiltinRole, Invitation, Member, MemberStatus, Role, pk

NOT_FOUND_MESSAGE = "No such invitation."


def not_found() -> Refusal:
    """The one answer for an invitation that is not there for the asker, whatever the
    reason (no such id, another's, already gone)."""
    return Refusal(UserErrorCode.NOT_FOUND, NOT_FOUND_MESSAGE, ["input", "invitationId"])


def _valid_email(email: str) -> str:
    try:
        return normalize_email(email)
    except InvalidEmailError as exc:
        raise Refusal(UserErrorCode.INVALID_VALUE, str(exc), ["input", "email"]) from exc


async def _not_yet_here(session: AsyncSession, workspace_id: int, email: str) -> None:
    """ALREADY_MEMBER or ALREADY_INVITED: the workspace's own facts about the address."""
    member = await repository.member_with_email(session, workspace_id, email)
    if member is not None:
        message = (
            f"{email} is a deactivated member of this workspace: reactivate them instead."
            if member.status == MemberStatus.DEACTIVATED
            else f"{email} is already a member of this workspace."
        )
        raise Refusal(UserErrorCode.ALREADY_MEMBER, message, ["input", "email"])
    if await repository.pending_for_email(session, workspace_id, email) is not None:
        raise Refusal(
            UserErrorCode.ALREADY_INVITED,
            f"{email} already has a pending invitation to this workspace.",
            ["input", "email"],
        )


async def invite(
    session: AsyncSession,
    workspace_id: int,
    actor: Actor,
    *,
    email: str,
    role_id: int | None,
    team_ids: Sequence[int],
) -> Invitation:
    """A pending invitation of ``email`` with the role (the built-in Member by default)
    and teams to give on acceptance. Nobody grants a role holding more than they hold."""
    checks = Checks()
    email = checks.value(_valid_email, email)
    if not checks.refused("email"):
        await checks.run_async(_not_yet_here, session, workspace_id, email)
    role: Role | None
    if role_id is None:
        role = await role_writes.builtin_role(session, workspace_id, BuiltinRole.MEMBER)
    else:
        role = await checks.run_async(find_role, session, workspace_id, role_id)
    if role is not None:
        await checks.run_async(require_grantable, session, actor, role, ["input", "roleId"])
    teams = await check_teams(session, workspace_id, team_ids, checks)
    checks.done()
    assert role is not None
    invitation = Invitation(
        workspace_id=workspace_id,
        email=email,
        role_id=pk(role),
        team_ids=list(teams),
        invited_by_user_id=actor.user_id,
    )
    session.add(invitation)
    summary = {"email": email, "role": role.name, "teamIds": teams}
    await record_change(session, actor, workspace_id, "member.invited", invitation, summary)
    return invitation


async def _addressed(
    session: AsyncSession, workspace_id: int, invitation_id: int, email: str
) -> Invitation:
    found = await repository.invitation_addressed_to(session, invitation_id, email, workspace_id)
    if found is None:
        raise not_found()
    return found


async def _role_on_acceptance(session: AsyncSession, invitation: Invitation) -> Role:
    """The invitation's role, or the built-in Member role when it was deleted since."""
    found = await roles_by_ids(session, invitation.workspace_id, [invitation.role_id])
    if found:
        return found[0]
    return await role_writes.builtin_role(session, invitation.workspace_id, BuiltinRole.MEMBER)


async def accept(
    session: AsyncSession, workspace_id: int, actor: Actor, invitation_id: int, email: str
) -> Member:
    """The invitee (``actor``, whose account's e-mail is ``email``) joins: a new ACTIVE
    membership with the invitation's role and the teams that still exist, or their
    DEACTIVATED membership of this workspace reactivated with that role and those
    teams (an ACTIVE one stays as it is). The invitation is consumed."""
    invitation = await _addressed(session, workspace_id, invitation_id, email)
    role = await _role_on_acceptance(session, invitation)
    teams = sorted(pk(t) for t in await teams_by_ids(session, workspace_id, invitation.team_ids))
    member = await member_writes.member_of_user(session, workspace_id, actor.user_id)
    if member is None:
        outcome = "created"
        member = Member(workspace_id=workspace_id, user_id=actor.user_id, role_id=pk(role))
    elif member.status == MemberStatus.DEACTIVATED:
        outcome = "reactivated"
        member.status = MemberStatus.ACTIVE
        member.deactivated_at = None
        member.role_id = pk(role)
    else:
        outcome = "unchanged"
    if outcome != "unchanged":
        session.add(member)
        await session.flush()
        await member_writes.set_teams(session, workspace_id, pk(member), teams)
    await session.delete(invitation)
    summary = {
        "invitationId": invitation_id,
        "email": invitation.email,
        "role": role.name,
        "teamIds": teams,
        "membership": outcome,
    }
    await record_change(session, actor, workspace_id, "invitation.accepted", member, summary)
    return member


async def decline(
    session: AsyncSession, workspace_id: int, actor: Actor, invitation_id: int, email: str
) -> None:
    """The invitee (``actor``) turns the invitation down: it is deleted. The event names
    no actor: the invitee never joined, and nothing of their account reaches the workspace."""
    invitation = await _addressed(session, workspace_id, invitation_id, email)
    summary = {"email": invitation.email}
    await session.delete(invitation)
    await record_change(
        session, actor, workspace_id, "invitation.declined", invitation, summary, anonymous=True
    )


async def revoke(session: AsyncSession, workspace_id: int, actor: Actor, invitation_id: int) -> int:
    """The workspace withdraws a pending invitation (deleted). Returns its id."""
    invitation = await repository.invitation_in(session, workspace_id, invitation_id)
    if invitation is None:
        raise not_found()
    await session.delete(invitation)
    summary = {"email": invitation.email}
    await record_change(session, actor, workspace_id, "invitation.revoked", invitation, summary)
    return invitation_id
