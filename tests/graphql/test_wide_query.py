"""A wide query (many sibling fields, aliases, several workspaces) resolves correctly, and
the request's one AsyncSession is never used by two tasks at once.

graphql-core resolves sibling fields concurrently and aiodataloader dispatches batches as
tasks; app/db/session.py serializes every use of the request's session with a lock. The
probe below wraps AsyncSession's statement methods and records how many statements are
in flight on one session at the same moment: with the lock, never more than one.
"""

from __future__ import annotations

import types
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

import app.db.session
from tests import factories as f
from tests.client import GraphQLClient

CY = "cy@acme.test"

WORKSPACE = """
  slug
  name
  members { totalCount nodes { user { email } role { name } teams { name } } }
  teams { nodes { name members { totalCount nodes { user { email } } } } }
  roles { nodes { name memberCount permissions } }
  conversations { totalCount nodes { title host { email } team { name } participants { name } actionItems { text } } }
  settings { general { name branding { primaryColor } } }
  integrations { provider connectedBy { email } }
  viewerPermissions
  viewerMembership { role { name } }
"""

WIDE = f"""query($acmeTeam: ID!, $globexMember: ID!) {{
  viewer {{ email workspaces {{ slug }} }}
  acme: workspace(slug: "acme") {{ {WORKSPACE} team(id: $acmeTeam) {{ name }} }}
  globex: workspace(slug: "globex") {{ {WORKSPACE}
    subscription {{ plan seats }}
    settings {{ intelligence {{ defaultModel providers {{ provider }} }} }} }}
  again: workspace(slug: "acme") {{ members(first: 1) {{ nodes {{ user {{ name }} }} }} }}
  missing: workspace(slug: "initech") {{ name }}
  everything: workspaces {{ slug teams {{ totalCount }} members {{ totalCount }} }}
  n1: node(id: $globexMember) {{ id }}
  n2: nodes(ids: [$acmeTeam, $globexMember]) {{ id }}
}}"""


class Probe:
    """Counts statements in flight per AsyncSession."""

    def __init__(self) -> None:
        self.in_flight: dict[int, int] = defaultdict(int)
        self.most = 0
        self.statements = 0

    def wrap(self, method: Any) -> Any:
        async def probed(session: AsyncSession, *args: Any, **kwargs: Any) -> Any:
            key = id(session)
            self.in_flight[key] += 1
            self.statements += 1
            self.most = max(self.most, self.in_flight[key])
            try:
                return await method(session, *args, **kwargs)
            finally:
                self.in_flight[key] -= 1

        return probed


@contextmanager
def probe(monkeypatch: pytest.MonkeyPatch) -> Iterator[Probe]:
    seen = Probe()
    with monkeypatch.context() as patch:
        for name in ("execute", "scalar", "scalars", "get", "flush"):
            patch.setattr(AsyncSession, name, seen.wrap(getattr(AsyncSession, name)))
        yield seen


async def wide(client: GraphQLClient, session: AsyncSession) -> dict[str, Any]:
    variables = {
        "acmeTeam": await f.gid(session, "Team", "acme", "Support"),
        "globexMember": await f.gid(session, "Member", "globex", "dee@globex.test"),
    }
    return await client.query(WIDE, variables, as_=CY)


async def test_wide_query_over_two_workspaces(
    client: GraphQLClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    with probe(monkeypatch) as seen:
        body = await wide(client, session)

    assert "errors" not in body, body["errors"]
    data = body["data"]
    assert data["viewer"] == {"email": CY, "workspaces": [{"slug": "acme"}, {"slug": "globex"}]}
    acme, globex = data["acme"], data["globex"]
    assert [m["user"]["email"] for m in acme["members"]["nodes"]] == [
        "ada@acme.test",
        "ben@acme.test",
        "cy@acme.test",
        "eve@acme.test",
    ]
    assert [m["role"]["name"] for m in acme["members"]["nodes"]] == [
        "Admin",
        "Admin",
        "Member",
        "Billing Manager",
    ]
    assert [m["user"]["email"] for m in globex["members"]["nodes"]] == [CY, "dee@globex.test"]
    assert [m["role"]["name"] for m in globex["members"]["nodes"]] == ["Admin", "Member"]
    assert [m["teams"] for m in globex["members"]["nodes"]] == [[{"name": "Ops"}]] * 2
    assert [t["name"] for t in acme["teams"]["nodes"]] == ["Sales", "Support"]
    assert globex["teams"]["nodes"] == [
        {
            "name": "Ops",
            "members": {
                "totalCount": 2,
                "nodes": [{"user": {"email": CY}}, {"user": {"email": "dee@globex.test"}}],
            },
        }
    ]
    assert [(r["name"], r["memberCount"]) for r in acme["roles"]["nodes"]] == [
        ("Admin", 2),
        ("Member", 1),
        ("Billing Manager", 1),
    ]
    assert [(r["name"], r["memberCount"]) for r in globex["roles"]["nodes"]] == [
        ("Admin", 1),
        ("Member", 1),
    ]
    # cy reads acme as a Member (team Sales) and globex as its Admin.
    assert [c["title"] for c in acme["conversations"]["nodes"]] == [
        "Pricing objection handling",
        "Q4 pipeline review",
        "Acme x Initech discovery call",
    ]
    assert {c["team"]["name"] for c in acme["conversations"]["nodes"]} == {"Sales"}
    assert [c["title"] for c in globex["conversations"]["nodes"]] == [
        "Vendor onboarding review",
        "Globex ops standup",
    ]
    assert [c["host"]["email"] for c in globex["conversations"]["nodes"]] == ["dee@globex.test"] * 2
    assert acme["settings"]["general"]["name"] == "Acme Corp"
    assert globex["settings"] == {
        "general": {"name": "Globex", "branding": {"primaryColor": "#1F6FEB"}},
        "intelligence": {"defaultModel": "gpt-4o", "providers": [{"provider": "openai"}]},
    }
    assert [i["provider"] for i in acme["integrations"]] == ["salesforce", "slack"]
    assert globex["integrations"] == [{"provider": "zoom", "connectedBy": {"email": CY}}]
    assert globex["subscription"] == {"plan": "TEAM", "seats": 5}
    assert "billing:read:all" not in acme["viewerPermissions"]
    assert "billing:read:all" in globex["viewerPermissions"]
    assert acme["viewerMembership"] == {"role": {"name": "Member"}}
    assert globex["viewerMembership"] == {"role": {"name": "Admin"}}
    assert acme["team"] == {"name": "Support"}
    assert data["again"] == {"members": {"nodes": [{"user": {"name": "Ada Admin"}}]}}
    assert data["missing"] is None
    assert data["everything"] == [
        {"slug": "acme", "teams": {"totalCount": 2}, "members": {"totalCount": 4}},
        {"slug": "globex", "teams": {"totalCount": 1}, "members": {"totalCount": 2}},
    ]
    assert data["n1"] is not None
    assert len(data["n2"]) == 2

    # Many statements, never two at once on the request's session.
    assert seen.statements > 20
    assert seen.most == 1


async def test_the_probe_sees_concurrent_use_without_the_lock(
    backend: str,
    client: GraphQLClient,
    session: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The probe has teeth: with the session lock replaced by a no-op, sibling resolvers
    do overlap on the one session (which is why the lock exists)."""
    if backend != "sqlite":
        pytest.skip("one engine is enough to show the probe works")

    class NoLock:
        async def __aenter__(self) -> None:
            return None

        async def __aexit__(self, *_: object) -> None:
            return None

    fake_asyncio = types.SimpleNamespace(Lock=NoLock)
    monkeypatch.setattr(app.db.session, "asyncio", fake_asyncio)
    with probe(monkeypatch) as seen:
        await wide(client, session)
    assert seen.most > 1
