"""Invitations: addMember invites an e-mail address and reveals nothing of any account;
the invitee sees, accepts or declines it; the workspace lists and revokes its own.

The demo has one pending invitation: acme (ada) invited fay@initech.test, who has no
account, as Member of team Sales.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth.credentials import read_credential
from app.auth.tokens import issue_user_token
from app.config import Settings
from app.db.engine import create_sessionmaker
from app.db.session import RequestDB
from app.edge.authenticate import authenticate
from app.graphql.ids import encode_id
from app.models import MemberStatus, UserStatus, pk
from tests import factories as f
from tests.client import GraphQLClient
from tests.graphql.mutations.helpers import (
    audit_actions,
    one,
    role_id,
    snapshot,
    team_id,
    workspace_id,
)

ADD = """
mutation($input: AddMemberInput!) {
  addMember(input: $input) {
    invitation { id email workspaceName invitedBy role createdAt }
    member { id }
    userErrors { code message field }
  }
}"""

ACCEPT = """
mutation($input: AcceptInvitationInput!) {
  acceptInvitation(input: $input) {
    workspace {
      slug name
      viewerMembership { status role { name } teams { name } user { email } }
    }
    userErrors { code message field }
  }
}"""

DECLINE = """
mutation($input: DeclineInvitationInput!) {
  declineInvitation(input: $input) { declinedInvitationId userErrors { code message field } }
}"""

REVOKE = """
mutation($input: RevokeInvitationInput!) {
  revokeInvitation(input: $input) { revokedInvitationId userErrors { code message field } }
}"""

VIEWER_INVITATIONS = "{ viewer { invitations { id email workspaceName invitedBy role } } }"

PENDING = """query($slug: String!) { workspace(slug: $slug) {
  invitations { totalCount nodes { id email workspaceName invitedBy role } }
} }"""

AUDIT = """query { workspace(slug: "acme") {
  auditEvents(filter: {action: "member.invited"}) { nodes { action actor { email } targetType summary } }
} }"""

KIM = "kim@elsewhere.test"
FAY = "fay@initech.test"  # the demo's invitation


async def _invite(client: GraphQLClient, ws: str, email: str, **extra: Any) -> dict[str, Any]:
    return await client.query(
        ADD, {"input": {"workspaceId": ws, "email": email, **extra}}, as_="ada@acme.test"
    )


def _without_identity(body: dict[str, Any]) -> dict[str, Any]:
    """The addMember answer with the new invitation's own id and timestamp blanked."""
    invitation = body["data"]["addMember"]["invitation"]
    if invitation is None:
        return body
    blanked = {**invitation, "id": "<id>", "createdAt": "<createdAt>"}
    return {"data": {"addMember": {**body["data"]["addMember"], "invitation": blanked}}}


async def _revoke_all(client: GraphQLClient, session: AsyncSession, email: str) -> None:
    invitation = await f.gid(session, "Invitation", "acme", email)
    body = await client.query(REVOKE, {"input": {"invitationId": invitation}}, as_="ada@acme.test")
    assert body["data"]["revokeInvitation"]["userErrors"] == []


async def test_add_member_answers_the_same_whatever_account_has_the_address(
    client: GraphQLClient, owner_engine: AsyncEngine, session: AsyncSession
) -> None:
    """No account, an ACTIVE account in another workspace, a deleted account: the same
    answer (but the new invitation's id and timestamp), the same refusal when invited
    twice, the same audit summary. Nothing of the account shows."""
    ws = await workspace_id(owner_engine, "acme")
    sales = await team_id(owner_engine, "acme", "Sales")
    globex = await f.workspace_id(session, "globex")
    answers, refusals = [], []

    async def round_() -> None:
        answers.append(_without_identity(await _invite(client, ws, KIM, teamIds=[sales])))
        refusals.append(await _invite(client, ws, KIM.upper(), teamIds=[sales]))
        session.expire_all()
        await _revoke_all(client, session, KIM)

    await round_()  # no account at all
    kim = await f.create_user(session, email=KIM, name="Kim Secret")
    await f.add_member(session, globex, pk(kim), await f.role_id(session, globex, "Admin"))
    await session.commit()
    await round_()  # an ACTIVE account, Admin of another workspace
    await session.refresh(kim)
    kim.status = UserStatus.DEACTIVATED
    session.add(kim)
    await session.commit()
    await round_()  # a deleted account

    assert answers[0] == {
        "data": {
            "addMember": {
                "invitation": {
                    "id": "<id>",
                    "email": KIM,
                    "workspaceName": "Acme Corp",
                    "invitedBy": "Ada Admin",
                    "role": "Member",
                    "createdAt": "<createdAt>",
                },
                "member": None,
                "userErrors": [],
            }
        }
    }
    assert answers[1] == answers[0] and answers[2] == answers[0]
    assert refusals[0] == {
        "data": {
            "addMember": {
                "invitation": None,
                "member": None,
                "userErrors": [
                    {
                        "code": "ALREADY_INVITED",
                        "message": "KIM@ELSEWHERE.TEST already has a pending invitation to this workspace.",
                        "field": ["input", "email"],
                    }
                ],
            }
        }
    }
    assert refusals[1] == refusals[0] and refusals[2] == refusals[0]
    events = (await client.query(AUDIT, as_="ada@acme.test"))["data"]["workspace"]["auditEvents"]
    sales_pk = await f.team_id(session, await f.workspace_id(session, "acme"), "Sales")
    expected = {
        "action": "member.invited",
        "actor": {"email": "ada@acme.test"},
        "targetType": "Invitation",
        "summary": {"email": KIM, "role": "Member", "teamIds": [sales_pk]},
    }
    assert events["nodes"] == [expected, expected, expected]


async def test_adding_a_member_of_this_workspace_is_refused_and_changes_nothing(
    client: GraphQLClient, owner_engine: AsyncEngine, session: AsyncSession
) -> None:
    ws = await workspace_id(owner_engine, "acme")
    acme = await f.workspace_id(session, "acme")
    eve = await f.member(session, acme, "eve@acme.test")
    eve.status = MemberStatus.DEACTIVATED
    session.add(eve)
    await session.commit()
    before = await snapshot(owner_engine)
    active = await _invite(client, ws, "CY@acme.test")
    deactivated = await _invite(client, ws, "eve@acme.test")
    invited = await _invite(client, ws, FAY.upper())
    assert [b["data"]["addMember"]["userErrors"] for b in (active, deactivated, invited)] == [
        [
            {
                "code": "ALREADY_MEMBER",
                "message": "CY@acme.test is already a member of this workspace.",
                "field": ["input", "email"],
            }
        ],
        [
            {
                "code": "ALREADY_MEMBER",
                "message": "eve@acme.test is a deactivated member of this workspace: reactivate them instead.",
                "field": ["input", "email"],
            }
        ],
        [
            {
                "code": "ALREADY_INVITED",
                "message": "FAY@INITECH.TEST already has a pending invitation to this workspace.",
                "field": ["input", "email"],
            }
        ],
    ]
    assert await snapshot(owner_engine) == before


async def test_invalid_address_role_escalation_and_permission(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    ws = await workspace_id(owner_engine, "acme")
    admin = await role_id(owner_engine, "acme", "Admin")
    before = await snapshot(owner_engine)
    bad = await _invite(client, ws, "not-an-address")
    assert bad["data"]["addMember"]["userErrors"][0]["code"] == "INVALID_VALUE"
    foreign_role = await role_id(owner_engine, "globex", "Member")
    assert (await _invite(client, ws, KIM, roleId=foreign_role))["data"]["addMember"][
        "userErrors"
    ] == [
        {
            "code": "NOT_FOUND",
            "message": "No such role in this workspace.",
            "field": ["input", "roleId"],
        }
    ]
    assert await snapshot(owner_engine) == before
    # eve may invite once her role can, but not as Admin (she does not hold all of it).
    await client.query(
        """mutation($input: UpdateRoleInput!) { updateRole(input: $input) { userErrors { code } } }""",
        {
            "input": {
                "roleId": await role_id(owner_engine, "acme", "Billing Manager"),
                "permissions": ["billing:*:all", "members:read:all", "members:create:all"],
            }
        },
        as_="ada@acme.test",
    )
    before = await snapshot(owner_engine)
    escalation = await client.query(
        ADD, {"input": {"workspaceId": ws, "email": KIM, "roleId": admin}}, as_="eve@acme.test"
    )
    assert escalation["data"]["addMember"]["userErrors"][0]["code"] == "ESCALATION"
    forbidden = await client.query(
        ADD, {"input": {"workspaceId": ws, "email": KIM}}, as_="cy@acme.test"
    )
    assert forbidden["data"] is None
    assert [e["extensions"]["code"] for e in forbidden["errors"]] == ["FORBIDDEN"]
    elsewhere = await client.query(
        ADD, {"input": {"workspaceId": ws, "email": KIM}}, as_="dee@globex.test"
    )
    assert elsewhere["data"]["addMember"]["userErrors"] == [
        {"code": "NOT_FOUND", "message": "Not found.", "field": ["input"]}
    ]
    assert await snapshot(owner_engine) == before


async def test_the_invitee_sees_it_case_insensitively_and_nobody_else(
    client: GraphQLClient, owner_engine: AsyncEngine, session: AsyncSession
) -> None:
    ws = await workspace_id(owner_engine, "acme")
    body = await _invite(client, ws, "DEE@Globex.TEST")
    invitation = body["data"]["addMember"]["invitation"]["id"]
    dee = await client.query(VIEWER_INVITATIONS, as_="dee@globex.test")
    assert dee == {
        "data": {
            "viewer": {
                "invitations": [
                    {
                        "id": invitation,
                        "email": "DEE@Globex.TEST",
                        "workspaceName": "Acme Corp",
                        "invitedBy": "Ada Admin",
                        "role": "Member",
                    }
                ]
            }
        }
    }
    for other in ("ada@acme.test", "cy@acme.test", "eve@acme.test"):
        assert await client.query(VIEWER_INVITATIONS, as_=other) == {
            "data": {"viewer": {"invitations": []}}
        }
    # Through another path to dee's account (cy shares globex with her): not listed.
    through_member = await client.query(
        """{ workspace(slug: "globex") { members { nodes { user { email invitations { id } } } } } }""",
        as_="cy@acme.test",
    )
    assert {
        m["user"]["email"]: m["user"]["invitations"]
        for m in through_member["data"]["workspace"]["members"]["nodes"]
    } == {"cy@acme.test": [], "dee@globex.test": []}
    # An API key of dee's does not list its creator's invitations.
    globex = await f.workspace_id(session, "globex")
    secret = await f.create_api_key(
        session, globex, await f.user_id(session, "dee@globex.test"), ["members:read:all"]
    )
    await session.commit()
    assert await client.query(VIEWER_INVITATIONS, token=secret) == {
        "data": {"viewer": {"invitations": []}}
    }
    # The invitee reads the invitation, not the workspace.
    assert await client.query('{ workspace(slug: "acme") { name } }', as_="dee@globex.test") == {
        "data": {"workspace": None}
    }
    assert await client.query(
        "query($id: ID!) { node(id: $id) { id } }", {"id": invitation}, as_="dee@globex.test"
    ) == {"data": {"node": None}}


async def test_the_workspace_lists_its_pending_invitations(
    client: GraphQLClient, session: AsyncSession
) -> None:
    fay = await f.gid(session, "Invitation", "acme", FAY)
    body = await client.query(PENDING, {"slug": "acme"}, as_="cy@acme.test")  # a Member
    assert body["data"]["workspace"]["invitations"] == {
        "totalCount": 1,
        "nodes": [
            {
                "id": fay,
                "email": FAY,
                "workspaceName": "Acme Corp",
                "invitedBy": "Ada Admin",
                "role": "Member",
            }
        ],
    }
    node = await client.query(
        "query($id: ID!) { node(id: $id) { __typename ... on Invitation { email role } } }",
        {"id": fay},
        as_="ada@acme.test",
    )
    assert node == {"data": {"node": {"__typename": "Invitation", "email": FAY, "role": "Member"}}}
    assert await client.query(PENDING, {"slug": "globex"}, as_="cy@acme.test") == {
        "data": {"workspace": {"invitations": {"totalCount": 0, "nodes": []}}}
    }
    assert await client.query(PENDING, {"slug": "acme"}, as_="dee@globex.test") == {
        "data": {"workspace": None}
    }


async def test_accepting_makes_a_member_with_the_role_and_teams(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    ws = await workspace_id(owner_engine, "acme")
    billing = await role_id(owner_engine, "acme", "Billing Manager")
    support = await team_id(owner_engine, "acme", "Support")
    sales = await team_id(owner_engine, "acme", "Sales")
    invited = await _invite(client, ws, "Dee@Globex.test", roleId=billing, teamIds=[support, sales])
    invitation = invited["data"]["addMember"]["invitation"]["id"]
    dee = await client.token("dee@globex.test")
    body = await client.query(ACCEPT, {"input": {"invitationId": invitation}}, token=dee)
    assert body == {
        "data": {
            "acceptInvitation": {
                "workspace": {
                    "slug": "acme",
                    "name": "Acme Corp",
                    "viewerMembership": {
                        "status": "ACTIVE",
                        "role": {"name": "Billing Manager"},
                        "teams": [{"name": "Sales"}, {"name": "Support"}],
                        "user": {"email": "dee@globex.test"},
                    },
                },
                "userErrors": [],
            }
        }
    }
    assert await client.query(
        "{ viewer { workspaces { slug } invitations { id } } }", token=dee
    ) == {
        "data": {
            "viewer": {"workspaces": [{"slug": "acme"}, {"slug": "globex"}], "invitations": []}
        }
    }
    members = await client.query(
        '{ workspace(slug: "acme") { members(filter: {search: "dee"}) { nodes { user { email } role { name } } } } }',
        as_="ada@acme.test",
    )
    assert members["data"]["workspace"]["members"]["nodes"] == [
        {"user": {"email": "dee@globex.test"}, "role": {"name": "Billing Manager"}}
    ]
    assert await audit_actions(owner_engine) == ["member.invited", "invitation.accepted"]
    assert (
        await one(
            owner_engine, "SELECT count(*) FROM invitations WHERE lower(email) = 'dee@globex.test'"
        )
        == 0
    )
    # Accepting twice: the invitation is gone.
    again = await client.query(ACCEPT, {"input": {"invitationId": invitation}}, token=dee)
    assert again["data"]["acceptInvitation"]["userErrors"][0]["code"] == "NOT_FOUND"


async def test_accepting_after_the_role_and_a_team_were_deleted(
    client: GraphQLClient, owner_engine: AsyncEngine, session: AsyncSession
) -> None:
    acme = await f.workspace_id(session, "acme")
    role = await f.create_role(session, acme, ["members:read:all"], name="Temp")
    team = await f.create_team(session, acme, name="Doomed")
    invitation = await f.create_invitation(
        session,
        acme,
        "dee@globex.test",
        role=pk(role),
        invited_by=await f.user_id(session, "ada@acme.test"),
        team_ids=[pk(team), await f.team_id(session, acme, "Support")],
    )
    await session.commit()
    ada = await client.token("ada@acme.test")
    deleted = await client.query(
        """mutation($r: DeleteRoleInput!, $t: DeleteTeamInput!) {
          deleteRole(input: $r) { userErrors { code } } deleteTeam(input: $t) { userErrors { code } } }""",
        {
            "r": {"roleId": encode_id("Role", pk(role))},
            "t": {"teamId": encode_id("Team", pk(team))},
        },
        token=ada,
    )
    assert deleted == {"data": {"deleteRole": {"userErrors": []}, "deleteTeam": {"userErrors": []}}}
    listed = await client.query(VIEWER_INVITATIONS, as_="dee@globex.test")
    assert listed["data"]["viewer"]["invitations"][0]["role"] == "Member"
    body = await client.query(
        ACCEPT,
        {"input": {"invitationId": encode_id("Invitation", pk(invitation))}},
        as_="dee@globex.test",
    )
    membership = body["data"]["acceptInvitation"]["workspace"]["viewerMembership"]
    assert (membership["role"], membership["teams"]) == ({"name": "Member"}, [{"name": "Support"}])


async def test_accepting_reactivates_a_deactivated_membership_with_the_invited_role(
    client: GraphQLClient, owner_engine: AsyncEngine, session: AsyncSession
) -> None:
    acme = await f.workspace_id(session, "acme")
    dee = await f.user_id(session, "dee@globex.test")
    await f.add_member(
        session,
        acme,
        dee,
        await f.role_id(session, acme, "Member"),
        team_ids=[await f.team_id(session, acme, "Sales")],
        status=MemberStatus.DEACTIVATED,
    )
    invitation = await f.create_invitation(
        session,
        acme,
        "dee@globex.test",
        role=await f.role_id(session, acme, "Billing Manager"),
        invited_by=await f.user_id(session, "ada@acme.test"),
        team_ids=[await f.team_id(session, acme, "Support")],
    )
    await session.commit()
    body = await client.query(
        ACCEPT,
        {"input": {"invitationId": encode_id("Invitation", pk(invitation))}},
        as_="dee@globex.test",
    )
    assert body["data"]["acceptInvitation"]["workspace"]["viewerMembership"] == {
        "status": "ACTIVE",
        "role": {"name": "Billing Manager"},
        "teams": [{"name": "Support"}],
        "user": {"email": "dee@globex.test"},
    }
    assert await one(owner_engine, "SELECT count(*) FROM members WHERE user_id = :u", u=dee) == 2


async def test_declining_deletes_it_without_naming_the_account(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    ws = await workspace_id(owner_engine, "acme")
    invited = await _invite(client, ws, "dee@globex.test")
    invitation = invited["data"]["addMember"]["invitation"]["id"]
    body = await client.query(
        DECLINE, {"input": {"invitationId": invitation}}, as_="dee@globex.test"
    )
    assert body == {
        "data": {"declineInvitation": {"declinedInvitationId": invitation, "userErrors": []}}
    }
    assert await client.query(VIEWER_INVITATIONS, as_="dee@globex.test") == {
        "data": {"viewer": {"invitations": []}}
    }
    events = await client.query(
        """{ workspace(slug: "acme") { auditEvents(first: 1) { nodes { action actor { email } target summary } } } }""",
        as_="ada@acme.test",
    )
    assert events["data"]["workspace"]["auditEvents"]["nodes"] == [
        {
            "action": "invitation.declined",
            "actor": None,
            "target": invitation,
            "summary": {"email": "dee@globex.test"},
        }
    ]
    assert await client.query('{ workspace(slug: "acme") { id } }', as_="dee@globex.test") == {
        "data": {"workspace": None}
    }


async def test_someone_elses_invitation_is_not_found_exactly_like_none(
    client: GraphQLClient, owner_engine: AsyncEngine, session: AsyncSession
) -> None:
    fay = await f.gid(session, "Invitation", "acme", FAY)
    missing = encode_id("Invitation", 999_999)
    member = await f.gid(session, "Member", "acme", "cy@acme.test")
    before = await snapshot(owner_engine)
    dee = await client.token("dee@globex.test")
    for mutation, name in ((ACCEPT, "acceptInvitation"), (DECLINE, "declineInvitation")):
        answers = [
            await client.query(mutation, {"input": {"invitationId": i}}, token=dee)
            for i in (fay, missing, member)
        ]
        assert answers[0]["data"][name]["userErrors"] == [
            {
                "code": "NOT_FOUND",
                "message": "No such invitation.",
                "field": ["input", "invitationId"],
            }
        ]
        assert answers[1] == answers[0] and answers[2] == answers[0]
    # After all that, dee still reads only globex.
    assert await client.query("{ workspaces { slug } }", token=dee) == {
        "data": {"workspaces": [{"slug": "globex"}]}
    }
    assert await snapshot(owner_engine) == before


async def test_api_keys_cannot_accept_or_decline(
    client: GraphQLClient, owner_engine: AsyncEngine, session: AsyncSession
) -> None:
    acme = await f.workspace_id(session, "acme")
    dee = await f.user_id(session, "dee@globex.test")
    invitation = await f.create_invitation(
        session,
        acme,
        "dee@globex.test",
        role=await f.role_id(session, acme, "Member"),
        invited_by=await f.user_id(session, "ada@acme.test"),
    )
    secret = await f.create_api_key(
        session, await f.workspace_id(session, "globex"), dee, ["members:read:all"]
    )
    await session.commit()
    for mutation in (ACCEPT, DECLINE):
        body = await client.query(
            mutation,
            {"input": {"invitationId": encode_id("Invitation", pk(invitation))}},
            token=secret,
        )
        assert body["data"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert await one(owner_engine, "SELECT count(*) FROM invitations") == 2


async def test_revoking_withdraws_it(
    client: GraphQLClient, owner_engine: AsyncEngine, session: AsyncSession
) -> None:
    fay = await f.gid(session, "Invitation", "acme", FAY)
    before = await snapshot(owner_engine)
    forbidden = await client.query(REVOKE, {"input": {"invitationId": fay}}, as_="eve@acme.test")
    assert [e["extensions"]["code"] for e in forbidden["errors"]] == ["FORBIDDEN"]
    # cy may revoke in globex (Admin), not in acme (Member): out of reach there.
    out_of_reach = await client.query(REVOKE, {"input": {"invitationId": fay}}, as_="cy@acme.test")
    assert out_of_reach["data"]["revokeInvitation"]["userErrors"] == [
        {"code": "NOT_FOUND", "message": "Not found.", "field": ["input"]}
    ]
    assert await snapshot(owner_engine) == before
    # ada is acme's Admin: globex's invitation is not there.
    ws_globex = await f.workspace_id(session, "globex")
    globex_invitation = await f.create_invitation(
        session,
        ws_globex,
        KIM,
        role=await f.role_id(session, ws_globex, "Member"),
        invited_by=await f.user_id(session, "cy@acme.test"),
    )
    await session.commit()
    before = await snapshot(owner_engine)
    elsewhere = await client.query(
        REVOKE,
        {"input": {"invitationId": encode_id("Invitation", pk(globex_invitation))}},
        as_="ada@acme.test",
    )
    assert elsewhere["data"]["revokeInvitation"]["userErrors"] == [
        {"code": "NOT_FOUND", "message": "Not found.", "field": ["input"]}
    ]
    assert await snapshot(owner_engine) == before
    body = await client.query(REVOKE, {"input": {"invitationId": fay}}, as_="ada@acme.test")
    assert body == {"data": {"revokeInvitation": {"revokedInvitationId": fay, "userErrors": []}}}
    assert await one(owner_engine, "SELECT count(*) FROM invitations") == 1
    assert await audit_actions(owner_engine) == ["invitation.revoked"]


@pytest.mark.postgres_only
async def test_row_level_security_shows_the_invitee_their_invitations_only(
    engine: AsyncEngine, settings: Settings, session: AsyncSession
) -> None:
    """Under dee's context: globex's rows and the invitations addressed to her, nothing
    else of acme (not its other invitations, not its roles); she can write none (the
    policy's e-mail clause is in USING only, not in WITH CHECK)."""
    acme = await f.workspace_id(session, "acme")
    dee = await f.user_id(session, "dee@globex.test")
    await f.create_invitation(
        session,
        acme,
        "DEE@globex.test",
        role=await f.role_id(session, acme, "Member"),
        invited_by=await f.user_id(session, "ada@acme.test"),
    )
    await session.commit()
    db = RequestDB(create_sessionmaker(engine))
    token = issue_user_token(settings, dee)
    await authenticate(db, read_credential(settings, f"Bearer {token}"))
    try:
        async with db.session() as s:
            seen = (await s.execute(sa.text("SELECT email FROM invitations ORDER BY id"))).all()
            roles = await s.scalar(
                sa.text("SELECT count(*) FROM roles WHERE workspace_id = :ws"), {"ws": acme}
            )
            # She reads hers, but writes none: not one to herself, not a better role.
            for sql in (
                "INSERT INTO invitations (workspace_id, email, role_id, team_ids,"
                " invited_by_user_id, created_at)"
                " VALUES (:ws, 'dee@globex.test', 1, '[]', :u, now())",
                "UPDATE invitations SET role_id = role_id + 1 WHERE workspace_id = :ws AND :u > 0",
            ):
                with pytest.raises(DBAPIError, match="row-level security"):
                    async with s.begin_nested():
                        await s.execute(sa.text(sql), {"ws": acme, "u": dee})
    finally:
        await db.finish(commit=False)
    assert [r[0] for r in seen] == ["DEE@globex.test"]  # not the demo's fay@initech.test
    assert roles == 0
    async with engine.connect() as conn:  # no context at all
        assert await conn.scalar(sa.text("SELECT count(*) FROM invitations")) == 0
        truncate = await conn.scalar(
            sa.text("SELECT has_table_privilege(current_user, 'invitations', 'TRUNCATE')")
        )
    assert truncate is False


async def test_an_operator_created_account_finds_and_accepts_the_demos_invitation(
    client: GraphQLClient, settings: Settings
) -> None:
    """The whole path for a person without an account: acme invited fay (demo data);
    an operator creates her account (sign-up happens outside the gateway); she sees the
    invitation and accepts it."""
    import asyncio

    from app.cli import cmd_account_create

    assert await asyncio.to_thread(cmd_account_create, settings, "Fay@Initech.test", "Fay") == 0
    again = await asyncio.to_thread(cmd_account_create, settings, "fay@initech.test", None)
    assert again == 0  # idempotent: the account exists
    assert await asyncio.to_thread(cmd_account_create, settings, "not an address", None) == 1
    fay = await client.token("fay@initech.test")
    seen = await client.query(VIEWER_INVITATIONS, token=fay)
    (invitation,) = seen["data"]["viewer"]["invitations"]
    assert {k: v for k, v in invitation.items() if k != "id"} == {
        "email": FAY,
        "workspaceName": "Acme Corp",
        "invitedBy": "Ada Admin",
        "role": "Member",
    }
    body = await client.query(ACCEPT, {"input": {"invitationId": invitation["id"]}}, token=fay)
    assert body["data"]["acceptInvitation"]["userErrors"] == []
    assert body["data"]["acceptInvitation"]["workspace"]["viewerMembership"] == {
        "status": "ACTIVE",
        "role": {"name": "Member"},
        "teams": [{"name": "Sales"}],
        "user": {"email": "Fay@Initech.test"},
    }
