"""Lists read only the columns of their relations that the query's fields are made of
(app.db.prepared ``narrowed``, by the types' declared reads: USER_READS, ROLE_READS,
TEAM_READS, PARTICIPANT_READS). A members page selecting ``user { id name }`` reads no
e-mail, avatar or timestamps of the accounts.

Each declared field, selected alone, must answer what the whole row answers
(``FAST_PATHS=false`` reads whole rows), on both engines; a field outside the declared
reads makes its relation read whole; a column a read left out never comes out as a
value."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from graphql import GraphQLID, GraphQLString
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db import prepared
from app.db.prepared import NOT_READ, Related
from app.db.rows import ANY_ROW
from app.graphql.access.types import MEMBER_READS, ROLE_READS, TEAM_READS
from app.graphql.conversations.types import CONVERSATION_READS, PARTICIPANT_READS
from app.graphql.users.types import USER_READS
from app.models import User
from tests.client import GraphQLClient
from tests.edge.asgi_edge import recorded

ADA = "ada@acme.test"
CY = "cy@acme.test"  # a plain Member: guarded fields answer errors, the same on both paths

MEMBERS = 'query {{ workspace(slug: "acme") {{ members(first: 50) {{ {items} }} }} }}'
CONVERSATIONS = 'query {{ workspace(slug: "acme") {{ conversations(first: 50) {{ {items} }} }} }}'


# The items' relations, each with a field to select under it.
RELATIONS = {
    "user": "id",
    "role": "id",
    "teams": "id",
    "host": "id",
    "team": "id",
    "participants": "name",
}


def _leaf(field: str) -> str:
    return "user { id }" if field == "user" else field


def documents() -> Iterator[str]:
    """One document per declared field of each relation, selecting it alone (beside the
    items' own id), as nodes and as edges; and a few mixed selections."""
    relations = [
        (MEMBERS, "user", USER_READS),
        (MEMBERS, "role", ROLE_READS),
        (MEMBERS, "teams", TEAM_READS),
        (CONVERSATIONS, "host", USER_READS),
        (CONVERSATIONS, "team", TEAM_READS),
    ]
    for page, relation, reads in relations:
        for field in reads:
            yield page.format(items=f"nodes {{ id {relation} {{ {field} }} }}")
            yield page.format(items=f"edges {{ node {{ id {relation} {{ {field} }} }} }}")
    for field in PARTICIPANT_READS:
        yield CONVERSATIONS.format(items=f"nodes {{ id participants {{ {_leaf(field)} }} }}")
    for field in USER_READS:
        yield CONVERSATIONS.format(items=f"nodes {{ id participants {{ user {{ {field} }} }} }}")
        # the host's and the participants' accounts, each read for its own fields
        yield CONVERSATIONS.format(
            items=f"nodes {{ id host {{ id }} participants {{ name user {{ {field} }} }} }}"
        )
    for page, reads in ((MEMBERS, MEMBER_READS), (CONVERSATIONS, CONVERSATION_READS)):
        for field in reads:  # the items' own columns
            selection = f"{field} {{ {RELATIONS[field]} }}" if field in RELATIONS else field
            yield page.format(items=f"nodes {{ {selection} }}")
            yield page.format(items=f"edges {{ cursor node {{ {selection} }} }}")
    for field in TEAM_READS:
        yield MEMBERS.format(
            items=f"nodes {{ id teamsConnection(first: 1) {{ nodes {{ {field} }} "
            "pageInfo { hasNextPage endCursor } } }"
        )
    yield MEMBERS.format(items="nodes { id user { ...U } role { name } }")
    yield MEMBERS.format(items="nodes { id ... on Member { user { email } } }")
    yield MEMBERS.format(items="nodes { id user { id } } edges { node { user { name } } }")


FRAGMENT = " fragment U on User { name avatarUrl }"


@pytest.fixture
async def stock(
    settings: Settings, engine: AsyncEngine, owner_engine: AsyncEngine
) -> AsyncIterator[GraphQLClient]:
    """The same database served with ``FAST_PATHS=false``: whole rows."""
    from app.main import create_app

    whole = settings.model_copy(update={"fast_paths": False})
    app = create_app(whole, engine)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            yield GraphQLClient(http, whole, owner_engine)


async def test_every_declared_field_read_alone_answers_what_the_whole_row_answers(
    client: GraphQLClient, stock: GraphQLClient
) -> None:
    for viewer in (ADA, CY):
        own, whole = await client.token(viewer), await stock.token(viewer)
        for document in documents():
            text = document + (FRAGMENT if "...U" in document else "")
            narrowed = await client.query(text, token=own)
            assert narrowed == await stock.query(text, token=whole), (viewer, text)
            if viewer == ADA:
                assert "errors" not in narrowed, text


@pytest.mark.fast_paths_only
async def test_a_page_reads_only_the_columns_its_fields_are_made_of(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    token = await client.token(ADA)
    page = MEMBERS.format(items="nodes { id user { id name } role { name } teams { id } }")
    with recorded(engine) as seen:
        body = await client.query(page, token=token)
    assert body["data"]["workspace"]["members"]["nodes"][0]["user"]["name"]
    sql = next(s for s in seen if "user__" in s)
    for label in ("user__id", "user__name", "role__name", "teams.id"):
        assert label in sql
    for label in ("user__email", "user__avatar_url", "user__created_at", "role__description"):
        assert label not in sql
    assert "teams.name" not in sql and "teams.description" not in sql
    # The members' own columns: those the fields are made of, the id and the workspace.
    assert "members.role_id" in sql and "members.user_id" in sql
    for column in ("members.status", "members.joined_at", "members.deactivated_at"):
        assert column not in sql

    people = CONVERSATIONS.format(items="nodes { id host { name } participants { user { id } } }")
    with recorded(engine) as seen:
        await client.query(people, token=token)
    sql = next(s for s in seen if "host__" in s)
    assert "host__name" in sql and "host__email" not in sql
    assert "conversations.host_user_id" in sql and "conversations.occurred_at" in sql
    for column in ("conversations.title", "conversations.created_at", "duration_seconds"):
        assert column not in sql
    # A participant's ``user { id }`` is its foreign key: no account joined, none checked.
    assert "conversation_participants.user_id" in sql
    assert "users." not in sql and "JOIN users ON" not in sql
    assert "conversation_participants.email" not in sql

    named = CONVERSATIONS.format(items="nodes { id participants { user { id name } } }")
    with recorded(engine) as seen:
        await client.query(named, token=token)
    sql = next(s for s in seen if "participants" in s and "users" in s)
    assert "users.name" in sql and "users.email" not in sql


@pytest.mark.fast_paths_only
async def test_each_document_reads_what_its_own_selection_needs_on_every_run(
    client: GraphQLClient, stock: GraphQLClient, engine: AsyncEngine
) -> None:
    """The look-ahead's shapes are kept with the document (every run of it selects the
    same fields): each later run reads what its own selection needs, and a document
    selecting more under the same fields is not answered with another's columns."""
    token, whole = await client.token(ADA), await stock.token(ADA)
    narrow = MEMBERS.format(items="nodes { id user { id } }")
    wide = MEMBERS.format(items="nodes { id user { id name email } role { name } }")
    for text in (narrow, wide, narrow, wide):
        with recorded(engine) as seen:
            body = await client.query(text, token=token)
        assert body == await stock.query(text, token=whole), text
        sql = next(s for s in seen if "user__id" in s)
        assert ("user__email" in sql) is (text == wide), text


async def test_a_field_outside_the_declared_reads_reads_the_whole_row(
    client: GraphQLClient, stock: GraphQLClient, engine: AsyncEngine
) -> None:
    # User.workspaces and Role.permissions have resolvers: they may read any column.
    page = MEMBERS.format(
        items="nodes { id user { id workspaces { slug } } role { id permissions } }"
    )
    with recorded(engine) as seen:
        body = await client.query(page, as_=ADA)
    assert body == await stock.query(page, as_=ADA)
    sql = next(s for s in seen if "user__" in s)
    for label in ("user__email", "user__created_at", "role__description", "role__builtin"):
        assert label in sql


def test_a_column_left_out_is_never_a_value() -> None:
    with pytest.raises(TypeError, match="left out"):
        bool(NOT_READ)
    for scalar in (GraphQLString, GraphQLID):  # they output other classes by str()
        with pytest.raises(TypeError, match="left out"):
            scalar.serialize(NOT_READ)
    with pytest.raises(TypeError, match="left out"):
        f"{NOT_READ}"
    users = Related("user", User, lambda user: user.id == 1)
    narrow = users.narrowed({"name"})
    assert narrow.read == ["id", "name"]
    assert users.narrowed({"name", "nonsense"}) is narrow  # only columns it has, made once
    assert users.narrowed(users.keys) is users
    labelled = namedtuple("labelled", ["id", "user__id", "user__name"])
    found = narrow.of([labelled(7, 3, "Ada")])[0]
    assert (found.id, found.name) == (3, "Ada")
    assert all(getattr(found, k) is NOT_READ for k in users.keys if k not in ("id", "name"))
    alone = namedtuple("alone", ["id", "user__id"])  # a relation read for its id only
    assert users.narrowed(()).of([alone(7, 3)])[0].id == 3


def test_statement_shapes_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prepared, "_MEMO", {})
    monkeypatch.setattr(prepared, "MAX_PREPARED", 8)
    for i in range(20):
        prepared.prepared(("shape", i), lambda _d: None, ANY_ROW)  # type: ignore[arg-type,return-value]
    assert len(prepared._MEMO) == 8
    assert ("shape", 19) in prepared._MEMO and ("shape", 0) not in prepared._MEMO
