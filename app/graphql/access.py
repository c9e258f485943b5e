"""Who is in a workspace: ``Member``, ``Team``, ``Role``, and the Workspace fields
that list them (mixed into ``Workspace`` by app.graphql.workspaces)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app import models as tables
from app.auth.permissions import expand_for_display
from app.domain.members import repository as members
from app.domain.members.repository import MemberFilter
from app.domain.roles import repository as roles
from app.domain.teams import repository as teams
from app.graphql.context import Info
from app.graphql.directives import scoped_field
from app.graphql.enums import MemberStatus
from app.graphql.errors import BadUserInput
from app.graphql.ids import decode_id_of
from app.graphql.node import Node, node_id
from app.graphql.pagination import Connection, decode_cursor, page_size, to_connection
from app.graphql.users import UserType
from app.models import pk

MEMBERS_READ = "members:read:all"
TEAMS_READ = "teams:read:all"
ROLES_READ = "roles:read:all"


def pk_of(global_id: str | None, type_name: str, argument: str) -> int | None:
    """Decode an ID argument that must name ``type_name`` (BAD_USER_INPUT otherwise)."""
    if global_id is None:
        return None
    try:
        pk = decode_id_of(global_id, type_name)
    except BadUserInput as exc:
        raise BadUserInput(exc.message, argument=argument) from None
    if pk is None:
        raise BadUserInput(f"`{argument}` must be the ID of a {type_name}.", argument=argument)
    return pk


@strawberry.type(
    name="Role", description="A named set of permissions. Admin and Member are built in."
)
class RoleType(Node):
    row: strawberry.Private[tables.Role]
    id: strawberry.ID = node_id("Role")

    @property
    def workspace_id(self) -> int:
        return self.row.workspace_id

    @scoped_field("Role name, unique in the workspace.")
    def name(self) -> str:
        return self.row.name

    @scoped_field("What the role is for.")
    def description(self) -> str:
        return self.row.description

    @scoped_field("True for the built-in Admin and Member roles.")
    def builtin(self) -> bool:
        return self.row.builtin is not None

    @scoped_field(
        "Permissions held, expanded: wildcards listed action by action, Admin as the whole "
        "catalogue at the all scope."
    )
    async def permissions(self, info: Info) -> list[str]:
        loaders = info.context.workspace(self.workspace_id)
        assert self.row.id is not None
        return expand_for_display(
            await loaders.role_permissions.load((self.row.id, self.row.builtin))
        )

    @scoped_field("How many members (active or deactivated) hold this role.")
    async def member_count(self, info: Info) -> int:
        assert self.row.id is not None
        return await info.context.workspace(self.workspace_id).role_member_count.load(self.row.id)


@strawberry.type(name="Team", description="A named group of members inside a workspace.")
class TeamType(Node):
    row: strawberry.Private[tables.Team]
    id: strawberry.ID = node_id("Team")

    @property
    def workspace_id(self) -> int:
        return self.row.workspace_id

    @scoped_field("Team name, unique in the workspace.")
    def name(self) -> str:
        return self.row.name

    @scoped_field("What the team does.")
    def description(self) -> str:
        return self.row.description

    @scoped_field("Members of the team, in the order they joined the workspace.", MEMBERS_READ)
    async def members(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[MemberType] | None:
        # Through loaders: a list of teams asking for their members is one batch.
        size, key = page_size(first), decode_cursor(after, (int,), kind="Member")
        loaders = info.context.workspace(self.workspace_id)
        team_id = pk(self.row)
        page = await loaders.team_members.load((team_id, size, key))
        for m in page.items:
            loaders.member.prime(pk(m), m)

        async def count() -> int:
            return await loaders.team_member_count.load(team_id)

        return to_connection(page, lambda m: MemberType(row=m), count, kind="Member")


@strawberry.type(name="Member", description="A user's membership of one workspace.")
class MemberType(Node):
    row: strawberry.Private[tables.Member]
    id: strawberry.ID = node_id("Member")

    @property
    def workspace_id(self) -> int:
        return self.row.workspace_id

    @scoped_field("The member's account.")
    async def user(self, info: Info) -> UserType:
        user = await info.context.users.load(self.row.user_id)
        assert user is not None  # members.user_id is a foreign key
        return UserType(row=user)

    @scoped_field("The member's role in this workspace.")
    async def role(self, info: Info) -> RoleType:
        role = await info.context.workspace(self.workspace_id).role.load(self.row.role_id)
        assert role is not None  # (workspace_id, role_id) is a foreign key
        return RoleType(row=role)

    @scoped_field("ACTIVE or DEACTIVATED.")
    def status(self) -> MemberStatus:
        return self.row.status

    @scoped_field("Teams the member belongs to, in id order.")
    async def teams(self, info: Info) -> list[TeamType]:
        assert self.row.id is not None
        rows = await info.context.workspace(self.workspace_id).teams_of_member.load(self.row.id)
        return [TeamType(row=t) for t in rows]

    @scoped_field("When the user joined this workspace.")
    def joined_at(self) -> datetime:
        return self.row.joined_at


@strawberry.input(description="Narrows `Workspace.members`; all given conditions must hold.")
class MemberFilterInput:
    status: MemberStatus | None = strawberry.field(default=None, description="Only this status.")
    role_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only holders of this Role."
    )
    team_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only members of this Team."
    )
    search: str | None = strawberry.field(
        default=None,
        description="Case-insensitive substring of the user's name or email (max 100).",
    )

    def to_domain(self) -> MemberFilter:
        if self.search is not None and len(self.search) > 100:
            raise BadUserInput(
                "`filter.search` is limited to 100 characters.", argument="filter.search"
            )
        if self.search is not None and "\x00" in self.search:
            # PostgreSQL text cannot hold NUL: refuse it here rather than fail the statement.
            raise BadUserInput(
                "`filter.search` must not contain NUL characters.", argument="filter.search"
            )
        return MemberFilter(
            status=self.status,
            role_id=pk_of(self.role_id, "Role", "filter.roleId"),
            team_id=pk_of(self.team_id, "Team", "filter.teamId"),
            search=self.search.strip() or None if self.search else None,
        )


async def members_connection(
    info: Info, workspace_id: int, f: MemberFilter, first: int | None, after: str | None
) -> Connection[MemberType]:
    size, key = page_size(first), decode_cursor(after, (int,), kind="Member")
    db, loaders = info.context.db, info.context.workspace(workspace_id)
    async with db.session() as s:
        page = await members.members_page(s, workspace_id, f, first=size, after=key)
    for m in page.items:
        loaders.member.prime(pk(m), m)

    async def count() -> int:
        async with db.session() as s:
            return await members.members_count(s, workspace_id, f)

    return to_connection(page, lambda m: MemberType(row=m), count, kind="Member")


@strawberry.type
class AccessFields:
    """Workspace fields about people and permissions."""

    @property
    def workspace_id(self) -> int:  # provided by Workspace
        raise NotImplementedError

    @scoped_field("Members, in the order they joined (keyset-paged).", MEMBERS_READ)
    async def members(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: MemberFilterInput | None = None,
    ) -> Connection[MemberType] | None:
        f = filter.to_domain() if filter else MemberFilter()
        return await members_connection(info, self.workspace_id, f, first, after)

    @scoped_field("A member by ID; null when not in this workspace.", MEMBERS_READ)
    async def member(self, info: Info, id: strawberry.ID) -> MemberType | None:
        pk = pk_of(id, "Member", "id")
        assert pk is not None
        row = await info.context.workspace(self.workspace_id).member.load(pk)
        return MemberType(row=row) if row else None

    @scoped_field("Teams, in creation order (keyset-paged).", TEAMS_READ)
    async def teams(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[TeamType] | None:
        size, key = page_size(first), decode_cursor(after, (int,), kind="Team")
        db, ws = info.context.db, self.workspace_id
        async with db.session() as s:
            page = await teams.teams_page(s, ws, first=size, after=key)

        async def count() -> int:
            async with db.session() as s:
                return await teams.teams_count(s, ws)

        return to_connection(page, lambda t: TeamType(row=t), count, kind="Team")

    @scoped_field("A team by ID; null when not in this workspace.", TEAMS_READ)
    async def team(self, info: Info, id: strawberry.ID) -> TeamType | None:
        pk = pk_of(id, "Team", "id")
        assert pk is not None
        row = await info.context.workspace(self.workspace_id).team.load(pk)
        return TeamType(row=row) if row else None

    @scoped_field("Roles in creation order, so the built-in ones first (keyset-paged).", ROLES_READ)
    async def roles(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[RoleType] | None:
        size, key = page_size(first), decode_cursor(after, (int,), kind="Role")
        db, ws = info.context.db, self.workspace_id
        async with db.session() as s:
            page = await roles.roles_page(s, ws, first=size, after=key)

        async def count() -> int:
            async with db.session() as s:
                return await roles.roles_count(s, ws)

        return to_connection(page, lambda r: RoleType(row=r), count, kind="Role")

    @scoped_field("A role by ID; null when not in this workspace.", ROLES_READ)
    async def role(self, info: Info, id: strawberry.ID) -> RoleType | None:
        pk = pk_of(id, "Role", "id")
        assert pk is not None
        row = await info.context.workspace(self.workspace_id).role.load(pk)
        return RoleType(row=row) if row else None

    @scoped_field("The viewer's own membership of this workspace.")
    async def viewer_membership(self, info: Info) -> MemberType:
        membership = info.context.viewer.membership(self.workspace_id)
        assert membership is not None  # the guard checked it
        row = await info.context.workspace(self.workspace_id).member.load(membership.member_id)
        assert row is not None
        return MemberType(row=row)

    @scoped_field(
        "Permissions the viewer holds here, expanded (for an API key: what the key may do)."
    )
    def viewer_permissions(self, info: Info) -> list[str]:
        membership = info.context.viewer.membership(self.workspace_id)
        assert membership is not None
        return expand_for_display(membership.granted)
