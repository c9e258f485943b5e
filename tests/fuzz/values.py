"""Hypothesis strategies for GraphQL input values, built from the input types.

Mostly well-typed values (so they pass coercion and reach the resolvers and the
database) whose content is hostile: control characters, odd Unicode, very long text,
integers at the edges, real IDs of every type and bogus ones, enum values, nulls, lists
of several lengths. Now and then a value of the wrong type, or a null where none is
allowed, to exercise coercion. An argument's name picks plausible values where the
type alone would rarely get past validation (an e-mail address, a permission, a
provider), always mixed with hostile text.

IDs are drawn as ``RealId`` references and resolved just before sending
(``resolve``), against the IDs the database holds at that moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    Undefined,
)
from hypothesis import strategies as st

from app.auth.permissions import catalogue
from app.domain.settings.service import AI_PROVIDERS, INTEGRATION_PROVIDERS
from app.graphql.ids import MAX_PK, NODE_TYPES, encode_id

Strategy = st.SearchStrategy[Any]


@dataclass(frozen=True)
class RealId:
    """The ``index``-th ID the database holds of ``type_name`` (any type when None)."""

    type_name: str | None
    index: int


def resolve(value: Any, pool: dict[str, list[str]]) -> Any:
    """``value`` with every ``RealId`` replaced by an ID from ``pool`` (type -> IDs)."""
    if isinstance(value, RealId):
        ids = pool.get(value.type_name or "", []) or [i for v in pool.values() for i in v]
        return ids[value.index % len(ids)] if ids else encode_id("User", 1)
    if isinstance(value, list):
        return [resolve(v, pool) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, pool) for k, v in value.items()}
    return value


def mostly(good: Strategy, bad: Strategy, one_in: int = 40) -> Strategy:
    """``good``, and ``bad`` about once in ``one_in`` draws."""
    return st.integers(1, one_in).flatmap(lambda n: bad if n == 1 else good)


HOSTILE_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "Ops\x00",
        "\x01\x02\x1b[31m\x7f",
        "line\nbreak\ttab\r",
        "\u0085\u2028\u2029",
        "\u202eevil\u202c",
        "\ufeffbom",
        "\u0661\u0662\u0663",
        "\u00b2",
        "caf\u00e9 \u2603 \U0001f600",
        "\U0001f600" * 60,
        "x" * 101,
        "x" * 501,
        "\u00e9" * 2049,
        "x" * 100_001,
        "'; DROP TABLE users; --",
        "%_\\",
        "<script>alert(1)</script>",
        "null",
        "DELETE ",
    ]
)
TEXT = st.one_of(st.text(max_size=30), HOSTILE_TEXT)

EMAILS = st.sampled_from(
    ["gus@example.test", "ada@acme.test", "fay@initech.test", "GUS@EXAMPLE.TEST", "a@b", "@x.y"]
)
PERMISSIONS = st.sampled_from([*catalogue(), "members:fly:all", "*:*:*", "billing:*:all"])
PROVIDERS = st.sampled_from([*sorted(AI_PROVIDERS | INTEGRATION_PROVIDERS), "SLACK", "none"])
MODELS = st.sampled_from(["gpt-4o", "gpt-4o-mini", "claude-sonnet-4", "m" * 101])
URLS = st.sampled_from(
    ["https://x.test/logo.png", "http://x.test/a.png", "https://", "javascript:alert(1)"]
)
COLORS = st.sampled_from(["#00AA00", "#fff", "00AA00", "#GGGGGG"])
SLUGS = st.sampled_from(["acme", "globex", "nope"])
INSTANTS = st.one_of(
    st.sampled_from(
        [
            "2026-11-04T00:00:00Z",
            "2026-11-04T00:00:00+05:30",
            "2999-01-01T00:00:00Z",
            "2000-01-01T00:00:00-12:00",
            "0001-01-01T00:00:00Z",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59Z",
            "9999-12-31T23:59:59-01:00",
            "2026-11-04T00:00:00",
            "2026-11-04",
            "2026-13-01T00:00:00Z",
            "x",
            "",
        ]
    ),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
)
INTS = st.one_of(
    st.sampled_from([0, 1, -1, 2, 50, 100, 101, 1000, 2**31 - 1, -(2**31)]),
    st.integers(-3, 120),
)
BAD_INTS = st.sampled_from([2**31, -(2**31) - 1, 2**53 + 1, 2**70, 1.5])
BOGUS_IDS = st.one_of(
    st.builds(encode_id, st.sampled_from(sorted(NODE_TYPES)), st.integers(1, MAX_PK)),
    st.builds(encode_id, st.just("Integration"), st.integers(1, 50)),
    st.sampled_from(
        ["", "x", "A" * 22, "\u0661" * 22, "=" * 22, "a" * 10_000, "1", "-1", str(2**70)]
    ),
    st.text(max_size=24),
)
WRONG_TYPE = st.one_of(st.integers(), st.booleans(), st.just({}), st.just([]), st.just(1.5))

_BY_NAME: dict[str, Strategy] = {
    "email": EMAILS,
    "permissions": PERMISSIONS,
    "provider": PROVIDERS,
    "models": MODELS,
    "defaultModel": MODELS,
    "logoUrl": URLS,
    "primaryColor": COLORS,
    "accentColor": COLORS,
    "slug": SLUGS,
    "action": st.sampled_from(["team.created", "member.invited", "settings.general_updated"]),
}
# Arguments whose ID names another type than their own name says.
_ID_TYPES = {"actorId": "User", "hostId": "User", "id": None, "ids": None}


def _id_type(name: str) -> str | None:
    if name in _ID_TYPES:
        return _ID_TYPES[name]
    stem = name.removesuffix("Ids").removesuffix("Id")
    candidate = stem[:1].upper() + stem[1:]
    return candidate if candidate in NODE_TYPES else None


def _ids(name: str) -> Strategy:
    own = _id_type(name)
    real = st.builds(RealId, st.just(own), st.integers(0, 200))
    any_real = st.builds(RealId, st.sampled_from([None, *sorted(NODE_TYPES)]), st.integers(0, 200))
    return mostly(real, st.one_of(any_real, BOGUS_IDS), 6)


def _scalar(type_: GraphQLScalarType, name: str) -> Strategy:
    if type_.name == "ID":
        return _ids(name)
    if type_.name == "String":
        hinted = _BY_NAME.get(name)
        return TEXT if hinted is None else mostly(hinted, TEXT, 4)
    if type_.name == "Int":
        return mostly(INTS, BAD_INTS)
    if type_.name == "Float":
        return st.floats(allow_nan=False)
    if type_.name == "Boolean":
        return st.booleans()
    if type_.name == "DateTime":
        return INSTANTS
    return st.one_of(st.none(), st.booleans(), st.integers(), TEXT)  # JSON and the like


def value_for(type_: GraphQLInputType, name: str) -> Strategy:
    """Values for an argument or input field ``name`` of ``type_``."""
    if isinstance(type_, GraphQLNonNull):
        return mostly(_plain(type_.of_type, name), st.just(None))
    return st.one_of(st.none(), _plain(type_, name), _plain(type_, name))


def _plain(type_: GraphQLInputType, name: str) -> Strategy:
    if isinstance(type_, GraphQLList):
        items = value_for(type_.of_type, name)
        return mostly(st.lists(items, max_size=4), st.lists(items, min_size=99, max_size=101))
    if isinstance(type_, GraphQLEnumType):
        return mostly(st.sampled_from(sorted(type_.values)), st.sampled_from(["NOPE", "", 1]))
    if isinstance(type_, GraphQLInputObjectType):
        required = {}
        optional = {}
        for field_name, field in type_.fields.items():
            strategy = value_for(field.type, field_name)
            needed = isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined
            (required if needed else optional)[field_name] = strategy
        objects = st.fixed_dictionaries(required, optional=optional)
        return mostly(objects, objects.map(lambda o: {**o, "unknownField": 1}))
    assert isinstance(type_, GraphQLScalarType), type_
    return mostly(_scalar(type_, name), WRONG_TYPE)


def arguments(args: dict[str, GraphQLInputType]) -> Strategy:
    """The variables of one call: required arguments always, optional ones sometimes."""
    required = {a: value_for(t, a) for a, t in args.items() if isinstance(t, GraphQLNonNull)}
    optional = {a: value_for(t, a) for a, t in args.items() if not isinstance(t, GraphQLNonNull)}
    return st.fixed_dictionaries(required, optional=optional)
