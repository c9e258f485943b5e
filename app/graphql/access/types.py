"""Who is in a workspace: the object types ``Member``, ``Team`` and ``Role``, and how a
list of members is built with the relations a query selects (``members_of``). The
Workspace fields that read them are in queries.py, their arguments' inputs in inputs.py."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import strawberry

from app import models as tables
from app.auth.permissions import expand_for_display
from app.domain.members.service import escalates, is_last_admin
from app.domain.pagination import page_of_whole
from app.domain.roles import service as roles_service
from app.graphql.capabilities import may_call, viewer_permissions
from app.graphql.context import Info
from app.graphql.directives import scoped_field
from app.graphql.enums import MemberStatus
from app.graphql.ids import encode_id
from app.graphql.loaders import together
from app.graphql.lookahead import Reads, selected
from app.graphql.node import Node, node_id
from app.graphql.pagination import (
    After,
    Before,
    Connection,
    First,
    Last,
    page_window,
    to_connection,
)
from app.graphql.users.types import UserType, users_by_id
from app.models import BuiltinRole, pk
from app.models.rows import MemberRow, RoleRow, TeamRow

# Where a connection's items sit below it, for look-ahead.
ITEMS = (("nodes",), ("edges", "node"))

MEMBERS_READ = "members:read:all"
TEAMS_READ = "teams:read:all"
ROLES_READ = "roles:read:all"


# The columns each field of Role and Team is made of (``RoleType.of``, ``TeamType.of``),
# as USER_READS (app.graphql.users.types) declares User's.
ROLE_READS: Reads = {
    "__typename": (),
    "id": ("id",),
    "name": ("name",),
    "description": ("description",),
    "builtin": ("builtin",),
}
TEAM_READS: Reads = {
    "__typename": (),
    "id": ("id",),
    "name": ("name",),
    "description": ("description",),
}
# A member's own columns each field is made of (``members_of``): the relations by the
# column that names them (joined or nested by the page's statement).
MEMBER_READS: Reads = {
    "__typename": (),
    "id": ("id",),
    "status": ("status",),
    "joinedAt": ("joined_at",),
    "user": ("user_id",),
    "role": ("role_id",),
    "teams": (),
}


@strawberry.type(
    name="Role", description="A named set of permissions. Admin and Member are built in."
)
class RoleType(Node):
    workspace_id: strawberry.Private[int]
    pk: strawberry.Private[int]
    kind: strawberry.Private[BuiltinRole | None]
    id: strawberry.ID = node_id("Role")
    name: str = scoped_field("Role name, unique in the workspace.")
    description: str = scoped_field("What the role is for.")
    builtin: bool = scoped_field("True for the built-in Admin and Member roles.")

    @classmethod
    def of(cls, row: RoleRow | tables.Role) -> RoleType:
        key = pk(row)
        return cls(
            workspace_id=row.workspace_id,
            pk=key,
            kind=row.builtin,
            id=strawberry.ID(encode_id("Role", key)),
            name=row.name,
            description=row.description,
            builtin=row.builtin is not None,
        )

    @scoped_field(
        "Permissions held, expanded: wildcards listed action by action, Admin as the whole "
        "catalogue at the all scope."
    )
    async def permissions(self, info: Info) -> list[str]:
        loaders = info.context.workspace(self.workspace_id)
        return expand_for_display(await loaders.role_permissions.load((self.pk, self.kind)))

    @scoped_field("How many members (active or deactivated) hold this role.")
    async def member_count(self, info: Info) -> int:
        return await info.context.workspace(self.workspace_id).role_member_count.load(self.pk)

    async def _escalates(self, info: Info) -> bool:
        loaders = info.context.workspace(self.workspace_id)
        held = viewer_permissions(info, self.workspace_id)
        return escalates(held, await loaders.role_permissions.load((self.pk, self.kind)))

    @scoped_field(
        "Whether `updateRole` would accept a change of this role, its permissions included: "
        "the viewer passes its permission check, the role is not the built-in Admin "
        "(BUILTIN_ROLE_IMMUTABLE) and holds nothing the viewer lacks (ESCALATION)."
    )
    async def viewer_can_update(self, info: Info) -> bool:
        return (
            may_call(info, self.workspace_id, "Mutation.updateRole")
            and roles_service.editable(self.kind)
            and not await self._escalates(info)
        )

    @scoped_field(
        "Whether `deleteRole` would delete this role: the viewer passes its permission "
        "check, it is a custom role (BUILTIN_ROLE_IMMUTABLE), nobody holds it (ROLE_IN_USE) "
        "and it holds nothing the viewer lacks (ESCALATION)."
    )
    async def viewer_can_delete(self, info: Info) -> bool:
        if not (
            may_call(info, self.workspace_id, "Mutation.deleteRole")
            and roles_service.deletable(self.kind)
        ):
            return False
        holders = await info.context.workspace(self.workspace_id).role_member_count.load(self.pk)
        return roles_service.unused(holders) and not await self._escalates(info)


@strawberry.type(name="Team", description="A named group of members inside a workspace.")
class TeamType(Node):
    workspace_id: strawberry.Private[int]
    pk: strawberry.Private[int]
    id: strawberry.ID = node_id("Team")
    name: str = scoped_field("Team name, unique in the workspace.")
    description: str = scoped_field("What the team does.")

    @classmethod
    def of(cls, row: TeamRow | tables.Team) -> TeamType:
        key = pk(row)
        return cls(
            workspace_id=row.workspace_id,
            pk=key,
            id=strawberry.ID(encode_id("Team", key)),
            name=row.name,
            description=row.description,
        )

    @scoped_field("Members of the team, in the order they joined the workspace.", MEMBERS_READ)
    async def members(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[MemberType] | None:
        # Through loaders: a list of teams asking for their members is one batch.
        window = page_window(first, after, last, before, (int,), kind="Member")
        loaders = info.context.workspace(self.workspace_id)
        page = await loaders.team_members.load((self.pk, window))
        items = await members_of(info, self.workspace_id, page.items, selected(info, *ITEMS))

        async def count() -> int:
            return await loaders.team_member_count.load(self.pk)

        return to_connection(page, items, count, loaders.repository.members, kind="Member")

    @scoped_field("Whether the viewer passes the permission check of `updateTeam`.")
    def viewer_can_update(self, info: Info) -> bool:
        return may_call(info, self.workspace_id, "Mutation.updateTeam")

    @scoped_field("Whether the viewer passes the permission check of `deleteTeam`.")
    def viewer_can_delete(self, info: Info) -> bool:
        return may_call(info, self.workspace_id, "Mutation.deleteTeam")


@strawberry.type(name="Member", description="A user's membership of one workspace.")
class MemberType(Node):
    workspace_id: strawberry.Private[int]
    pk: strawberry.Private[int]
    id: strawberry.ID = node_id("Member")
    status: MemberStatus = scoped_field("ACTIVE or DEACTIVATED.")
    joined_at: datetime = scoped_field("When the user joined this workspace.")
    # Relations are loaded with the list the members come in (see members_of).
    user: UserType = scoped_field("The member's account.")
    role: RoleType = scoped_field("The member's role in this workspace.")
    teams: list[TeamType] = scoped_field(
        "Teams the member belongs to, in id order.",
        deprecation_reason="Use `teamsConnection`, which pages the list.",
    )
    role_id: strawberry.Private[int]
    # Whether ``teams`` holds the member's teams (read when the query selects them).
    teams_read: strawberry.Private[bool] = False

    async def _rules(self, info: Info, mutation: str) -> tuple[bool, bool] | None:
        """None when the viewer fails ``mutation``'s permission check; otherwise whether
        the member's role holds more than the viewer (ESCALATION) and whether the member
        is the workspace's only active Admin (SOLE_ADMIN). Loaded per page: the roles,
        their permissions and the active Admins are one batch each."""
        if not may_call(info, self.workspace_id, f"Mutation.{mutation}"):
            return None
        loaders = info.context.workspace(self.workspace_id)
        role, admins = await asyncio.gather(
            loaders.role.load(self.role_id), loaders.active_admins.load(self.workspace_id)
        )
        builtin = role.builtin if role is not None else None
        granted = await loaders.role_permissions.load((self.role_id, builtin))
        held = viewer_permissions(info, self.workspace_id)
        return escalates(held, granted), is_last_admin(self.pk, self.status, builtin, admins)

    @scoped_field(
        "Whether `updateMember` would accept a change of this member's teams: the viewer "
        "passes its permission check. Their role: see `viewerCanChangeRole`."
    )
    async def viewer_can_update(self, info: Info) -> bool:
        return may_call(info, self.workspace_id, "Mutation.updateMember")

    @scoped_field(
        "Whether `updateMember` would accept a new role for this member (one the viewer "
        "holds everything of): the viewer passes its permission check, the member's role "
        "holds nothing the viewer lacks (ESCALATION) and the member is not the only active "
        "Admin (SOLE_ADMIN)."
    )
    async def viewer_can_change_role(self, info: Info) -> bool:
        rules = await self._rules(info, "updateMember")
        return rules is not None and not any(rules)

    @scoped_field(
        "Whether `deactivateMember` would deactivate this member: ACTIVE, the viewer passes "
        "its permission check, their role holds nothing the viewer lacks (ESCALATION), not "
        "the only active Admin (SOLE_ADMIN)."
    )
    async def viewer_can_deactivate(self, info: Info) -> bool:
        if self.status != MemberStatus.ACTIVE:
            return False
        rules = await self._rules(info, "deactivateMember")
        return rules is not None and not any(rules)

    @scoped_field(
        "Whether `reactivateMember` would reactivate this member: DEACTIVATED, the viewer "
        "passes its permission check, their role holds nothing the viewer lacks (ESCALATION)."
    )
    async def viewer_can_reactivate(self, info: Info) -> bool:
        if self.status != MemberStatus.DEACTIVATED:
            return False
        rules = await self._rules(info, "reactivateMember")
        return rules is not None and not rules[0]

    @scoped_field(
        "Whether `removeMember` would remove this member: the viewer passes its permission "
        "check, their role holds nothing the viewer lacks (ESCALATION), not the only active "
        "Admin (SOLE_ADMIN)."
    )
    async def viewer_can_remove(self, info: Info) -> bool:
        rules = await self._rules(info, "removeMember")
        return rules is not None and not any(rules)

    @scoped_field("Teams the member belongs to, in creation order (keyset-paged).")
    async def teams_connection(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[TeamType] | None:
        # A member's teams are few (at most the workspace's) and read whole with the
        # list the member comes in (members_of: in the page's own statement for
        # Workspace.members): paged here, without a statement.
        window = page_window(first, after, last, before, (int,), kind="Team")
        teams = self.teams
        if not self.teams_read:
            loaders = info.context.workspace(self.workspace_id)
            teams = [TeamType.of(t) for t in await loaders.teams_of_member.load(self.pk)]
        page = page_of_whole(teams, lambda t: (t.pk,), window)

        async def count() -> int:
            return len(teams)

        return to_connection(page, page.items, count, None, kind="Team")


def with_relations(wanted: frozenset[str]) -> frozenset[str]:
    """The relations to read for the fields a query selects on members: their teams for
    ``teamsConnection`` too (paged from the whole list)."""
    return wanted | {"teams"} if "teamsConnection" in wanted else wanted


async def members_of(
    info: Info,
    workspace_id: int,
    rows: Sequence[MemberRow | tables.Member],
    wanted: frozenset[str],
    related: Mapping[str, list[Any]] | None = None,
) -> list[MemberType]:
    """Members with the relations the query selects, loaded up front so their fields
    resolve without awaiting: those the rows' own statement joined (``related``, by
    relation name, aligned with ``rows``), the others in one batch per relation."""
    joined = related or {}
    wanted = with_relations(wanted)
    # The rows came through the workspace's checked reads; its loaders are made only
    # for a relation the rows' own statement did not join (a page's joined them all).
    missing = {r for r in ("user", "role", "teams") if r in wanted and r not in joined}
    loaders = info.context.workspace(workspace_id) if missing - {"user"} else None
    users, roles, teams = await together(
        users_by_id(info, (r.user_id for r in rows)) if "user" in missing else None,
        loaders.role.fetch_many(sorted({r.role_id for r in rows}))
        if loaders is not None and "role" in missing
        else None,
        loaders.teams_of_member.fetch_many([pk(r) for r in rows])
        if loaders is not None and "teams" in missing
        else None,
    )
    teams = joined.get("teams", teams)
    role_of = {pk(r): RoleType.of(r) for r in roles or () if r is not None}
    for r in joined.get("role", ()):
        if r.id not in role_of:
            role_of[r.id] = RoleType.of(r)
    user_rows = joined.get("user")
    team_of: dict[int, TeamType] = {}
    out = []
    for i, row in enumerate(rows):
        key = pk(row)
        if user_rows is not None:
            user: UserType | None = UserType.of(user_rows[i])
        else:
            user = users.get(row.user_id) if users is not None else None
        out.append(
            MemberType(
                workspace_id=workspace_id,
                pk=key,
                id=strawberry.ID(encode_id("Member", key)),
                status=row.status,
                joined_at=row.joined_at,
                role_id=row.role_id,
                user=user,  # type: ignore[arg-type]
                role=role_of.get(row.role_id),  # type: ignore[arg-type]
                teams=[made_once(team_of, t, TeamType.of) for t in teams[i]] if teams else [],
                teams_read=teams is not None,
            )
        )
    return out


async def member_of(info: Info, row: tables.Member | None) -> MemberType | None:
    """One member, with what the current field selects under it."""
    if row is None:
        return None
    return (await members_of(info, row.workspace_id, [row], selected(info)))[0]


T = TypeVar("T")


def made_once(made: dict[int, T], row: Any, make: Callable[[Any], T]) -> T:
    """The object made of ``row`` for the rows at hand (a page): made once per row id,
    then shared however often the row appears."""
    key = row.id
    found = made.get(key)
    if found is None:
        found = made[key] = make(row)
    return found
