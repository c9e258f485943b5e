"""Teams: create, edit (name, description, members), delete."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.actor import Actor
from app.domain.changes import note_change, record_change
from app.domain.errors import Checks, Refusal, UserErrorCode
from app.domain.members import writes as member_writes
from app.domain.members.repository import members_by_ids
from app.domain.teams import writes
from app.domain.teams.repository import teams_by_ids
from app.domain.validation import check_text, report_missing, require_free_name
from app.models import Team, pk

NAME_MAX = 100
DESCRIPTION_MAX = 500


def team_not_found() -> Refusal:
    """The one answer for a team out of the actor's reach: in another workspace, in one
    where it may not change teams, or no such team."""
    return Refusal(UserErrorCode.NOT_FOUND, "No such team in this workspace.", ["input", "teamId"])


async def find_team(session: AsyncSession, workspace_id: int, team_id: int) -> Team:
    found = await teams_by_ids(session, workspace_id, [team_id])
    if not found:
        raise team_not_found()
    return found[0]


async def _check_members(
    session: AsyncSession, workspace_id: int, member_ids: Sequence[int], checks: Checks
) -> list[int]:
    """The members' ids, sorted; NOT_FOUND at each one not in the workspace."""
    found = {pk(m) for m in await members_by_ids(session, workspace_id, sorted(set(member_ids)))}
    return report_missing(checks, member_ids, found, "memberIds", "member")


async def _check_name(
    session: AsyncSession, workspace_id: int, name: str, checks: Checks, team_id: int | None = None
) -> str:
    """The name trimmed, checked (text rules, then free in the workspace)."""
    name = checks.value(check_text, name, "name", NAME_MAX, required=True)
    if not checks.refused("name"):
        other = await writes.team_named(session, workspace_id, name)
        checks.run(require_free_name, other, team_id, "team", name)
    return name


def _check_description(description: str, checks: Checks) -> str:
    return checks.value(
        check_text, description, "description", DESCRIPTION_MAX, required=False, multiline=True
    )


async def create_team(
    session: AsyncSession,
    workspace_id: int,
    actor: Actor,
    *,
    name: str,
    description: str,
    member_ids: Sequence[int],
) -> Team:
    checks = Checks()
    name = await _check_name(session, workspace_id, name, checks)
    description = _check_description(description, checks)
    members = await _check_members(session, workspace_id, member_ids, checks)
    checks.done()
    team = Team(workspace_id=workspace_id, name=name, description=description)
    session.add(team)
    await session.flush()
    await member_writes.set_team_members(session, workspace_id, pk(team), members)
    await record_change(
        session, actor, workspace_id, "team.created", team, {"name": name, "memberIds": members}
    )
    return team


async def update_team(
    session: AsyncSession,
    workspace_id: int,
    actor: Actor,
    team_id: int,
    *,
    name: str | None,
    description: str | None,
    member_ids: Sequence[int] | None,
) -> Team:
    team = await find_team(session, workspace_id, team_id)
    checks = Checks()
    if name is not None:
        name = await _check_name(session, workspace_id, name, checks, pk(team))
    if description is not None:
        description = _check_description(description, checks)
    if member_ids is not None:
        members = await _check_members(session, workspace_id, member_ids, checks)
    checks.done()
    summary: dict[str, object] = {}
    note_change(summary, team, "name", name)
    note_change(summary, team, "description", description)
    if member_ids is not None:
        await member_writes.set_team_members(session, workspace_id, pk(team), members)
        summary["memberIds"] = {"after": members}
    if summary:
        session.add(team)
        await record_change(session, actor, workspace_id, "team.updated", team, summary)
    return team


async def delete_team(session: AsyncSession, workspace_id: int, actor: Actor, team_id: int) -> int:
    team = await find_team(session, workspace_id, team_id)
    await writes.detach_conversations(session, workspace_id, team_id)
    await session.delete(team)
    await record_change(session, actor, workspace_id, "team.deleted", team, {"name": team.name})
    return team_id
