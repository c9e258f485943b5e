"""The read API (issue 3) over HTTP, for ada (Admin of acme), with exact values from the
demo data (app/domain/demo.py). IDs are looked up by natural key, never hard-coded."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import MEMBER_PERMISSIONS, admin_permissions, expand_for_display
from app.graphql.ids import encode_id
from app.models import MemberStatus, pk
from tests import factories as f
from tests.client import GraphQLClient

ADA = "ada@acme.test"
ADMIN = expand_for_display(admin_permissions())
MEMBER = expand_for_display(MEMBER_PERMISSIONS)
BILLING_MANAGER = [
    "organization:read:all",
    "members:read:all",
    "teams:read:all",
    "roles:read:all",
    "integrations:read:all",
    "billing:read:all",
    "billing:update:all",
    "conversations:read:team",
    "conversations:share:own",
    "insights:read:team",
]
USERS = {
    "ada@acme.test": "Ada Admin",
    "ben@acme.test": "Ben Admin",
    "cy@acme.test": "Cy Member",
    "dee@globex.test": "Dee Member",
    "eve@acme.test": "Eve Billing",
}
# acme's members in join order: (email, role, team)
ACME_MEMBERS = [
    ("ada@acme.test", "Admin", "Sales"),
    ("ben@acme.test", "Admin", "Support"),
    ("cy@acme.test", "Member", "Sales"),
    ("eve@acme.test", "Billing Manager", "Support"),
]
# acme's conversations, newest first: (title, team, host, guests, occurredAt, duration)
ACME_CONVERSATIONS = [
    ("Support weekly sync", "Support", "ben@acme.test", (), "2026-11-06T19:00:00+00:00", 3000),
    (
        "Escalation: outage follow-up",
        "Support",
        "ben@acme.test",
        ("eve@acme.test",),
        "2026-11-05T18:00:00+00:00",
        2700,
    ),
    ("Pricing objection handling", "Sales", "cy@acme.test", (), "2026-11-04T17:00:00+00:00", 2400),
    (
        "Q4 pipeline review",
        "Sales",
        "ada@acme.test",
        ("cy@acme.test",),
        "2026-11-03T16:00:00+00:00",
        2100,
    ),
    (
        "Acme x Initech discovery call",
        "Sales",
        "ada@acme.test",
        ("cy@acme.test",),
        "2026-11-02T15:00:00+00:00",
        1800,
    ),
]


async def user_ref(session: AsyncSession, email: str) -> dict[str, str]:
    return {"id": await f.gid(session, "User", email), "name": USERS[email]}


async def team_ref(session: AsyncSession, slug: str, name: str) -> dict[str, str]:
    return {"id": await f.gid(session, "Team", slug, name), "name": name}


async def role_ref(session: AsyncSession, slug: str, name: str) -> dict[str, str]:
    return {"id": await f.gid(session, "Role", slug, name), "name": name}


async def ada(client: GraphQLClient, query: str, **variables: Any) -> dict[str, Any]:
    return await client.query(query, variables or None, as_=ADA)


# --- workspaces -------------------------------------------------------------------------


async def test_workspaces_lists_the_viewers_workspaces(
    client: GraphQLClient, session: AsyncSession
) -> None:
    body = await client.query("{ workspaces { id slug name logoUrl } }", as_="cy@acme.test")
    assert body == {
        "data": {
            "workspaces": [
                {
                    "id": await f.gid(session, "Workspace", "acme"),
                    "slug": "acme",
                    "name": "Acme Corp",
                    "logoUrl": "https://assets.harmony.test/logos/acme.png",
                },
                {
                    "id": await f.gid(session, "Workspace", "globex"),
                    "slug": "globex",
                    "name": "Globex",
                    "logoUrl": "https://assets.harmony.test/logos/globex.png",
                },
            ]
        }
    }


async def test_workspace_by_slug(client: GraphQLClient, session: AsyncSession) -> None:
    body = await ada(client, '{ workspace(slug: "acme") { id slug name } }')
    assert body == {
        "data": {
            "workspace": {
                "id": await f.gid(session, "Workspace", "acme"),
                "slug": "acme",
                "name": "Acme Corp",
            }
        }
    }


async def test_workspace_that_does_not_exist_is_null(client: GraphQLClient) -> None:
    for slug in ["nope", "", "ACME", "acme ", "acme\n", "a" * 64]:  # (NUL: test_bad_input)
        body = await ada(client, "query($s: String!) { workspace(slug: $s) { id } }", s=slug)
        assert body == {"data": {"workspace": None}}, slug


# --- members ----------------------------------------------------------------------------

MEMBERS_PAGE = """
query($filter: MemberFilterInput) {
  workspace(slug: "acme") {
    members(filter: $filter) {
      totalCount
      nodes {
        id status joinedAt
        user { id name email avatarUrl status }
        role { id name }
        teams { id name }
      }
    }
  }
}
"""


async def expected_member(session: AsyncSession, email: str, role: str, team: str) -> Any:
    ws = await f.workspace_id(session, "acme")
    row = await f.member(session, ws, email)
    return {
        "id": encode_id("Member", pk(row)),
        "status": row.status.value,
        "joinedAt": row.joined_at.isoformat(),
        "user": {
            "id": await f.gid(session, "User", email),
            "name": USERS[email],
            "email": email,
            "avatarUrl": None,
            "status": "ACTIVE",
        },
        "role": await role_ref(session, "acme", role),
        "teams": [await team_ref(session, "acme", team)],
    }


async def test_members_page(client: GraphQLClient, session: AsyncSession) -> None:
    body = await ada(client, MEMBERS_PAGE)
    assert body == {
        "data": {
            "workspace": {
                "members": {
                    "totalCount": 4,
                    "nodes": [await expected_member(session, *m) for m in ACME_MEMBERS],
                }
            }
        }
    }


async def filtered_emails(client: GraphQLClient, member_filter: dict[str, Any]) -> list[str]:
    body = await ada(
        client,
        """query($filter: MemberFilterInput) { workspace(slug: "acme") {
             members(filter: $filter) { totalCount nodes { user { email } } } } }""",
        filter=member_filter,
    )
    members = body["data"]["workspace"]["members"]
    emails = [n["user"]["email"] for n in members["nodes"]]
    assert members["totalCount"] == len(emails), body
    return emails


async def test_member_filters(client: GraphQLClient, session: AsyncSession) -> None:
    ws = await f.workspace_id(session, "acme")
    cy = await f.member(session, ws, "cy@acme.test")
    cy.status = MemberStatus.DEACTIVATED
    await session.commit()
    admin = await f.gid(session, "Role", "acme", "Admin")
    member = await f.gid(session, "Role", "acme", "Member")
    sales = await f.gid(session, "Team", "acme", "Sales")
    support = await f.gid(session, "Team", "acme", "Support")
    everyone = ["ada@acme.test", "ben@acme.test", "cy@acme.test", "eve@acme.test"]

    assert await filtered_emails(client, {}) == everyone
    assert await filtered_emails(client, {"status": "ACTIVE"}) == [
        "ada@acme.test",
        "ben@acme.test",
        "eve@acme.test",
    ]
    assert await filtered_emails(client, {"status": "DEACTIVATED"}) == ["cy@acme.test"]
    assert await filtered_emails(client, {"roleId": admin}) == ["ada@acme.test", "ben@acme.test"]
    assert await filtered_emails(client, {"teamId": support}) == ["ben@acme.test", "eve@acme.test"]
    assert await filtered_emails(client, {"roleId": member, "teamId": sales}) == ["cy@acme.test"]
    assert await filtered_emails(client, {"roleId": admin, "status": "DEACTIVATED"}) == []


SEARCHES = [
    ("cy", ["cy@acme.test"]),
    ("BILLING", ["eve@acme.test"]),  # name, any case
    ("ACME.TEST", ["ada@acme.test", "ben@acme.test", "cy@acme.test", "eve@acme.test"]),
    (" admin ", ["ada@acme.test", "ben@acme.test"]),  # trimmed
    ("%", []),  # LIKE wildcards are literal
    ("_", []),
    ("dee", []),  # a user of another workspace
    ("", ["ada@acme.test", "ben@acme.test", "cy@acme.test", "eve@acme.test"]),
]


async def test_member_search(client: GraphQLClient) -> None:
    for search, emails in SEARCHES:
        assert await filtered_emails(client, {"search": search}) == emails, search


BAD_MEMBER_FILTERS: list[tuple[dict[str, Any], str, str]] = [
    ({"search": "x" * 101}, "`filter.search` is limited to 100 characters.", "filter.search"),
    ({"roleId": "team"}, "'team' is not a valid ID.", "filter.roleId"),
    ({"teamId": ""}, "'' is not a valid ID.", "filter.teamId"),
]


async def test_bad_member_filter_is_bad_user_input(client: GraphQLClient) -> None:
    for member_filter, message, argument in BAD_MEMBER_FILTERS:
        body = await ada(
            client,
            'query($f: MemberFilterInput) { workspace(slug: "acme") { members(filter: $f) { totalCount } } }',
            f=member_filter,
        )
        assert body["data"] == {"workspace": {"members": None}}, member_filter
        assert [(e["message"], e["path"], e["extensions"]) for e in body["errors"]] == [
            (message, ["workspace", "members"], {"code": "BAD_USER_INPUT", "argument": argument})
        ], member_filter


async def test_member_filter_with_an_id_of_another_type_is_bad_user_input(
    client: GraphQLClient, session: AsyncSession
) -> None:
    sales = await f.gid(session, "Team", "acme", "Sales")
    body = await ada(
        client,
        'query($f: MemberFilterInput) { workspace(slug: "acme") { members(filter: $f) { totalCount } } }',
        f={"roleId": sales},
    )
    assert body["data"] == {"workspace": {"members": None}}
    assert [(e["message"], e["extensions"]) for e in body["errors"]] == [
        (
            "`filter.roleId` must be the ID of a Role.",
            {"code": "BAD_USER_INPUT", "argument": "filter.roleId"},
        )
    ]


async def test_member_by_id(client: GraphQLClient, session: AsyncSession) -> None:
    cy = await f.gid(session, "Member", "acme", "cy@acme.test")
    dee = await f.gid(session, "Member", "globex", "dee@globex.test")
    body = await ada(
        client,
        """query($a: ID!, $b: ID!) { workspace(slug: "acme") {
             a: member(id: $a) { id user { email } }
             b: member(id: $b) { id } } }""",
        a=cy,
        b=dee,
    )
    assert body == {
        "data": {"workspace": {"a": {"id": cy, "user": {"email": "cy@acme.test"}}, "b": None}}
    }


# --- teams and roles --------------------------------------------------------------------


async def test_teams_with_their_members(client: GraphQLClient, session: AsyncSession) -> None:
    body = await ada(
        client,
        """{ workspace(slug: "acme") { teams { totalCount nodes {
             id name description members { totalCount nodes { user { email } } } } } } }""",
    )
    assert body == {
        "data": {
            "workspace": {
                "teams": {
                    "totalCount": 2,
                    "nodes": [
                        {
                            **await team_ref(session, "acme", "Sales"),
                            "description": "The Sales team",
                            "members": {
                                "totalCount": 2,
                                "nodes": [
                                    {"user": {"email": "ada@acme.test"}},
                                    {"user": {"email": "cy@acme.test"}},
                                ],
                            },
                        },
                        {
                            **await team_ref(session, "acme", "Support"),
                            "description": "The Support team",
                            "members": {
                                "totalCount": 2,
                                "nodes": [
                                    {"user": {"email": "ben@acme.test"}},
                                    {"user": {"email": "eve@acme.test"}},
                                ],
                            },
                        },
                    ],
                }
            }
        }
    }


async def test_team_and_role_by_id(client: GraphQLClient, session: AsyncSession) -> None:
    support = await f.gid(session, "Team", "acme", "Support")
    ops = await f.gid(session, "Team", "globex", "Ops")
    billing = await f.gid(session, "Role", "acme", "Billing Manager")
    globex_admin = await f.gid(session, "Role", "globex", "Admin")
    body = await ada(
        client,
        """query($t: ID!, $t2: ID!, $r: ID!, $r2: ID!) { workspace(slug: "acme") {
             t: team(id: $t) { name } t2: team(id: $t2) { name }
             r: role(id: $r) { name } r2: role(id: $r2) { name } } }""",
        t=support,
        t2=ops,
        r=billing,
        r2=globex_admin,
    )
    assert body == {
        "data": {
            "workspace": {
                "t": {"name": "Support"},
                "t2": None,
                "r": {"name": "Billing Manager"},
                "r2": None,
            }
        }
    }


async def test_roles_with_expanded_permissions_and_member_count(
    client: GraphQLClient, session: AsyncSession
) -> None:
    body = await ada(
        client,
        """{ workspace(slug: "acme") { roles { totalCount nodes {
             id name description builtin permissions memberCount } } } }""",
    )
    assert body == {
        "data": {
            "workspace": {
                "roles": {
                    "totalCount": 3,
                    "nodes": [
                        {
                            **await role_ref(session, "acme", "Admin"),
                            "description": "Every standard permission at the all scope. "
                            "Cannot be edited or deleted.",
                            "builtin": True,
                            "permissions": ADMIN,
                            "memberCount": 2,
                        },
                        {
                            **await role_ref(session, "acme", "Member"),
                            "description": "Reads the workspace, its own team's conversations "
                            "and insights.",
                            "builtin": True,
                            "permissions": MEMBER,
                            "memberCount": 1,
                        },
                        {
                            **await role_ref(session, "acme", "Billing Manager"),
                            "description": "Billing Manager (custom)",
                            "builtin": False,
                            "permissions": BILLING_MANAGER,
                            "memberCount": 1,
                        },
                    ],
                }
            }
        }
    }
    assert "organization:update:all" in ADMIN
    assert len(ADMIN) == 39  # webhooks:read|create|update|delete:all included


# --- settings, billing, integrations ------------------------------------------------------


async def test_settings_pages(client: GraphQLClient) -> None:
    body = await ada(
        client,
        """{ workspace(slug: "acme") { settings {
             general { name logoUrl handbook branding { primaryColor accentColor } }
             intelligence { defaultModel providers { provider enabled models } } } } }""",
    )
    assert body == {
        "data": {
            "workspace": {
                "settings": {
                    "general": {
                        "name": "Acme Corp",
                        "logoUrl": "https://assets.harmony.test/logos/acme.png",
                        "handbook": "# Acme Corp handbook\n\n"
                        "Welcome! Meetings are recorded with consent.",
                        "branding": {"primaryColor": "#1F6FEB", "accentColor": "#F2CC60"},
                    },
                    "intelligence": {
                        "defaultModel": "claude-sonnet-4",
                        "providers": [
                            {
                                "provider": "anthropic",
                                "enabled": True,
                                "models": ["claude-sonnet-4"],
                            },
                            {
                                "provider": "openai",
                                "enabled": True,
                                "models": ["gpt-4o", "gpt-4o-mini"],
                            },
                        ],
                    },
                }
            }
        }
    }


async def test_intelligence_page_without_providers_or_settings(
    client: GraphQLClient, session: AsyncSession
) -> None:
    from sqlalchemy import delete

    from app.models import AIProvider, IntelligenceSettings

    query = """{ workspace(slug: "acme") { settings { intelligence {
      defaultModel providers { provider } } } } }"""
    acme = await f.workspace_id(session, "acme")
    await session.execute(delete(AIProvider).where(AIProvider.workspace_id == acme))
    await session.commit()
    body = await ada(client, query)
    assert body["data"]["workspace"]["settings"]["intelligence"] == {
        "defaultModel": "claude-sonnet-4",
        "providers": [],
    }
    await session.execute(
        delete(IntelligenceSettings).where(IntelligenceSettings.workspace_id == acme)
    )
    await session.commit()
    body = await ada(client, query)
    assert body["data"]["workspace"]["settings"]["intelligence"] == {
        "defaultModel": None,
        "providers": [],
    }


async def test_subscription_is_a_billing_subscription(client: GraphQLClient) -> None:
    body = await ada(
        client,
        '{ workspace(slug: "acme") { subscription { __typename plan status seats currentPeriodEnd canceledAt } } }',
    )
    assert body == {
        "data": {
            "workspace": {
                "subscription": {
                    "__typename": "BillingSubscription",
                    "plan": "BUSINESS",
                    "status": "ACTIVE",
                    "seats": 25,
                    "currentPeriodEnd": None,
                    "canceledAt": None,
                }
            }
        }
    }


async def test_integrations(client: GraphQLClient, session: AsyncSession) -> None:
    body = await ada(
        client,
        '{ workspace(slug: "acme") { integrations { provider status connectedAt connectedBy { id name } } } }',
    )
    connected = {
        "status": "CONNECTED",
        "connectedAt": "2026-10-03T15:00:00+00:00",
        "connectedBy": await user_ref(session, ADA),
    }
    assert body == {
        "data": {
            "workspace": {
                "integrations": [
                    {"provider": "salesforce", **connected},
                    {"provider": "slack", **connected},
                ]
            }
        }
    }


# --- conversations ----------------------------------------------------------------------

CONVERSATIONS = """
query($filter: ConversationFilterInput) {
  workspace(slug: "acme") {
    conversations(filter: $filter) {
      totalCount
      nodes {
        id title occurredAt durationSeconds
        host { id name }
        team { id name }
        participants { name email user { id name } }
        transcript
        insights { kind content }
        actionItems { text done assignee { id name } }
      }
    }
  }
}
"""


async def expected_conversation(
    session: AsyncSession,
    title: str,
    team: str,
    host: str,
    guests: tuple[str, ...],
    occurred_at: str,
    duration: int,
) -> dict[str, Any]:
    host_ref = await user_ref(session, host)
    people = [
        {"name": USERS[e], "email": e, "user": await user_ref(session, e)} for e in (host, *guests)
    ]
    return {
        "id": await f.gid(session, "Conversation", "acme", title),
        "title": title,
        "occurredAt": occurred_at,
        "durationSeconds": duration,
        "host": host_ref,
        "team": await team_ref(session, "acme", team),
        "participants": [
            *people,
            {"name": "Guest Speaker", "email": "guest@example.test", "user": None},
        ],
        "transcript": f'{USERS[host]}: Thanks for joining "{title}".\n'
        "Guest Speaker: Happy to be here.",
        "insights": [
            {"kind": "SUMMARY", "content": f"Summary of {title}."},
            {"kind": "TOPIC", "content": team},
        ],
        "actionItems": [{"text": f"Send notes for {title}", "done": False, "assignee": host_ref}],
    }


async def test_conversation_list(client: GraphQLClient, session: AsyncSession) -> None:
    body = await ada(client, CONVERSATIONS)
    assert body == {
        "data": {
            "workspace": {
                "conversations": {
                    "totalCount": 5,
                    "nodes": [await expected_conversation(session, *c) for c in ACME_CONVERSATIONS],
                }
            }
        }
    }


async def conversation_titles(client: GraphQLClient, conversation_filter: dict[str, Any]) -> Any:
    body = await ada(
        client,
        """query($f: ConversationFilterInput) { workspace(slug: "acme") {
             conversations(filter: $f) { totalCount nodes { title } } } }""",
        f=conversation_filter,
    )
    if "errors" in body:
        return body
    page = body["data"]["workspace"]["conversations"]
    titles = [n["title"] for n in page["nodes"]]
    assert page["totalCount"] == len(titles)
    return titles


async def test_conversation_filters(client: GraphQLClient, session: AsyncSession) -> None:
    support = await f.gid(session, "Team", "acme", "Support")
    ada_id = await f.gid(session, "User", ADA)
    cy_id = await f.gid(session, "User", "cy@acme.test")
    dee_id = await f.gid(session, "User", "dee@globex.test")
    assert await conversation_titles(client, {"teamId": support}) == [
        "Support weekly sync",
        "Escalation: outage follow-up",
    ]
    assert await conversation_titles(client, {"hostId": ada_id}) == [
        "Q4 pipeline review",
        "Acme x Initech discovery call",
    ]
    assert await conversation_titles(client, {"hostId": cy_id}) == ["Pricing objection handling"]
    assert await conversation_titles(client, {"hostId": dee_id}) == []
    # `from` is inclusive, `to` exclusive; any offset is understood.
    assert await conversation_titles(client, {"from": "2026-11-04T17:00:00Z"}) == [
        "Support weekly sync",
        "Escalation: outage follow-up",
        "Pricing objection handling",
    ]
    assert await conversation_titles(client, {"to": "2026-11-04T18:00:00+01:00"}) == [
        "Q4 pipeline review",
        "Acme x Initech discovery call",
    ]
    assert await conversation_titles(
        client,
        {"from": "2026-11-03T00:00:00Z", "to": "2026-11-06T00:00:00Z", "hostId": ada_id},
    ) == ["Q4 pipeline review"]


BAD_CONVERSATION_FILTERS: list[tuple[dict[str, Any], str, str]] = [
    (
        {"teamId": encode_id("User", 1)},
        "`filter.teamId` must be the ID of a Team.",
        "filter.teamId",
    ),
    (
        {"hostId": encode_id("Team", 1)},
        "`filter.hostId` must be the ID of a User.",
        "filter.hostId",
    ),
]


async def test_bad_conversation_filter_is_bad_user_input(client: GraphQLClient) -> None:
    for conversation_filter, message, argument in BAD_CONVERSATION_FILTERS:
        body = await conversation_titles(client, conversation_filter)
        assert body["data"] == {"workspace": {"conversations": None}}, conversation_filter
        assert [(e["message"], e["extensions"]) for e in body["errors"]] == [
            (message, {"code": "BAD_USER_INPUT", "argument": argument})
        ], conversation_filter


async def test_conversation_by_id(client: GraphQLClient, session: AsyncSession) -> None:
    sync = await f.gid(session, "Conversation", "acme", "Support weekly sync")
    standup = await f.gid(session, "Conversation", "globex", "Globex ops standup")
    body = await ada(
        client,
        """query($a: ID!, $b: ID!) { workspace(slug: "acme") {
             a: conversation(id: $a) { title } b: conversation(id: $b) { title } } }""",
        a=sync,
        b=standup,
    )
    assert body == {"data": {"workspace": {"a": {"title": "Support weekly sync"}, "b": None}}}


# --- the viewer in a workspace ------------------------------------------------------------


async def test_viewer_membership_and_permissions(
    client: GraphQLClient, session: AsyncSession
) -> None:
    query = """{ workspace(slug: "acme") {
                   viewerMembership { id role { name } teams { name } }
                   viewerPermissions } }"""
    body = await ada(client, query)
    assert body == {
        "data": {
            "workspace": {
                "viewerMembership": {
                    "id": await f.gid(session, "Member", "acme", ADA),
                    "role": {"name": "Admin"},
                    "teams": [{"name": "Sales"}],
                },
                "viewerPermissions": ADMIN,
            }
        }
    }
    body = await client.query(query, as_="eve@acme.test")
    assert body == {
        "data": {
            "workspace": {
                "viewerMembership": {
                    "id": await f.gid(session, "Member", "acme", "eve@acme.test"),
                    "role": {"name": "Billing Manager"},
                    "teams": [{"name": "Support"}],
                },
                "viewerPermissions": BILLING_MANAGER,
            }
        }
    }


async def test_viewer_permissions_differ_per_workspace(client: GraphQLClient) -> None:
    body = await client.query(
        """{ a: workspace(slug: "acme") { viewerPermissions }
             g: workspace(slug: "globex") { viewerPermissions } }""",
        as_="cy@acme.test",
    )
    assert body == {"data": {"a": {"viewerPermissions": MEMBER}, "g": {"viewerPermissions": ADMIN}}}


async def test_user_workspaces_are_listed_for_the_viewer_only(client: GraphQLClient) -> None:
    body = await ada(
        client,
        """{ viewer { workspaces { slug } }
             workspace(slug: "acme") { members { nodes { user { email workspaces { slug } } } } } }""",
    )
    assert body["data"]["viewer"] == {"workspaces": [{"slug": "acme"}]}
    assert body["data"]["workspace"]["members"]["nodes"] == [
        {"user": {"email": "ada@acme.test", "workspaces": [{"slug": "acme"}]}},
        {"user": {"email": "ben@acme.test", "workspaces": []}},
        {"user": {"email": "cy@acme.test", "workspaces": []}},  # never leaks globex
        {"user": {"email": "eve@acme.test", "workspaces": []}},
    ]


async def test_a_selection_that_depends_on_a_variable_follows_it_every_time(
    client: GraphQLClient,
) -> None:
    query = """query($email: Boolean!) { workspace(slug: "acme") { members(first: 1) {
      nodes { user { name email @include(if: $email) } } } } }"""
    for email in (True, False, True):
        body = await client.query(query, {"email": email}, as_="ada@acme.test")
        user = body["data"]["workspace"]["members"]["nodes"][0]["user"]
        assert user == (
            {"name": "Ada Admin", "email": "ada@acme.test"} if email else {"name": "Ada Admin"}
        )
