"""Persisted operations: the trusted-documents manifest, the request's extensions, the
in-process store and the Redis store (the real server; a closed port and a silent one for
the failures)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from graphql import (
    ArgumentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    ValueNode,
    VariableNode,
    Visitor,
    parse,
    validate,
    visit,
)
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from app.config import Settings
from app.edge.manifest import (
    ManifestError,
    build_manifest,
    check_manifest,
    trusted_operations,
)
from app.edge.persisted import (
    ENTRY_OVERHEAD_BYTES,
    MANIFEST_PATH,
    MAX_PERSISTED_QUERY_BYTES,
    NOT_FOUND_MESSAGE,
    REDIS_TTL_SECONDS,
    PersistedQueryError,
    PersistedRequest,
    PersistedStore,
    check_hash,
    create_persisted_store,
    persisted_request,
    resolve_query,
    sha256_hex,
    trusted_documents,
)
from app.graphql.schema import schema
from tests.edge.conftest import REDIS_URL

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 0.25
SECRET = "test-secret-" + "x" * 32

QUERY = "query Hello { viewer { id } }"
QUERY_HASH = sha256_hex(QUERY)


def settings(**overrides: object) -> Settings:
    return Settings(jwt_secret=SECRET, redis_timeout_seconds=TIMEOUT, **overrides)  # type: ignore[arg-type]


def query_of_size(n: int, tag: str) -> str:
    """A distinct text of exactly ``n`` UTF-8 bytes."""
    head = f"query Q{tag} {{ viewer {{ id }} }}"
    return head + "#" * (n - len(head))


def errors_counted(operation: str) -> float:
    value = REGISTRY.get_sample_value(
        "harmony_rate_limit_backend_errors_total", {"operation": operation}
    )
    return value or 0.0


# --- the manifest ------------------------------------------------------------------------


def test_manifest_is_current() -> None:
    committed = MANIFEST_PATH.read_bytes()
    assert build_manifest().encode("utf-8") == committed, (
        "app/edge/trusted_documents.json is stale: regenerate it with "
        "`python -m app persisted-manifest` and commit the result."
    )


def test_persisted_manifest_check_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app", "persisted-manifest", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"is current ({len(trusted_documents())} operations)" in done.stdout


def test_check_refuses_a_stale_manifest(tmp_path: Path) -> None:
    stale = tmp_path / "trusted_documents.json"
    stale.write_text('{"format": 1, "operations": {}}\n')
    with pytest.raises(ManifestError, match="is stale") as caught:
        check_manifest(path=stale)
    assert "python -m app persisted-manifest" in str(caught.value)


def test_every_trusted_operation_is_named_and_valid() -> None:
    documents = trusted_documents()
    assert len(documents) == len(trusted_operations()) >= 30
    for sha256_hash, text in documents.items():
        assert sha256_hex(text) == sha256_hash
        document = parse(text)
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        assert len(operations) == 1, text
        assert operations[0].name is not None, text
        assert validate(schema._schema, document) == [], operations[0].name.value


def _literals(value: ValueNode) -> bool:
    if isinstance(value, VariableNode):
        return False
    if isinstance(value, ObjectValueNode):
        return any(_literals(f.value) for f in value.fields)
    if isinstance(value, ListValueNode):
        return any(_literals(v) for v in value.values)
    return True


class _LiteralArguments(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def enter_argument(self, node: ArgumentNode, *_: object) -> None:
        if _literals(node.value):
            self.found.append(node.name.value)


def test_trusted_operations_take_variables_not_literals() -> None:
    for operation in trusted_operations():
        visitor = _LiteralArguments()
        visit(parse(operation.document), visitor)
        assert visitor.found == [], f"{operation.name} passes literal arguments"


def test_every_mutation_has_a_trusted_operation() -> None:
    used: set[str] = set()
    for operation in trusted_operations():
        for definition in parse(operation.document).definitions:
            if (
                isinstance(definition, OperationDefinitionNode)
                and definition.operation == OperationType.MUTATION
            ):
                used |= {s.name.value for s in definition.selection_set.selections}  # type: ignore[attr-defined]
    assert schema._schema.mutation_type is not None
    missing = set(schema._schema.mutation_type.fields) - used
    assert missing == set(), (
        f"the SPA has no operation for {sorted(missing)}: add one to operations/spa/ and "
        "run `python -m app persisted-manifest`"
    )


def test_fragments_travel_with_the_operations_that_use_them() -> None:
    by_name = {op.name: op.document for op in trusted_operations()}
    update_member = by_name["UpdateMember"]
    # MemberRow spreads UserSummary: both come along, once each, in name order.
    assert update_member.index("fragment MemberRow") < update_member.index("fragment UserSummary")
    assert update_member.count("fragment ") == 2
    assert "fragment" not in by_name["BillingPage"]


def test_manifest_source_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.graphql").write_text("query Bad { viewer { nope } }")
    with pytest.raises(ManifestError, match=r"bad\.graphql: operation Bad is not valid"):
        trusted_operations(tmp_path)
    (tmp_path / "bad.graphql").write_text("{ viewer { id } }")
    with pytest.raises(ManifestError, match="every operation needs a name"):
        trusted_operations(tmp_path)
    (tmp_path / "bad.graphql").write_text("query A { viewer { ...Missing } }")
    with pytest.raises(ManifestError, match="unknown fragment Missing"):
        trusted_operations(tmp_path)


# --- the request's extensions --------------------------------------------------------------


def test_no_persisted_query() -> None:
    assert persisted_request(None) is None
    assert persisted_request({}) is None
    assert persisted_request({"persistedQuery": None, "other": 1}) is None


def test_a_persisted_query() -> None:
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": QUERY_HASH}}
    assert persisted_request(extensions) == PersistedRequest(QUERY_HASH)
    upper = {"persistedQuery": {"version": 1, "sha256Hash": QUERY_HASH.upper()}}
    assert persisted_request(upper) == PersistedRequest(QUERY_HASH)
    # A GET request's parameter is JSON text.
    text = f'{{"persistedQuery":{{"version":1,"sha256Hash":"{QUERY_HASH}"}}}}'
    assert persisted_request(text) == PersistedRequest(QUERY_HASH)


VERSION_MESSAGE = (
    "Unsupported persisted query version: `extensions.persistedQuery.version` must be 1."
)
HASH_MESSAGE = (
    "`extensions.persistedQuery.sha256Hash` must be the SHA-256 of the query text: "
    "64 hexadecimal characters."
)


@pytest.mark.parametrize(
    ("extensions", "message"),
    [
        ({"persistedQuery": {"version": 2, "sha256Hash": QUERY_HASH}}, VERSION_MESSAGE),
        ({"persistedQuery": {"version": True, "sha256Hash": QUERY_HASH}}, VERSION_MESSAGE),
        ({"persistedQuery": {"version": "1", "sha256Hash": QUERY_HASH}}, VERSION_MESSAGE),
        ({"persistedQuery": {"sha256Hash": QUERY_HASH}}, VERSION_MESSAGE),
        ({"persistedQuery": {"version": 1, "sha256Hash": QUERY_HASH[:-1]}}, HASH_MESSAGE),
        ({"persistedQuery": {"version": 1, "sha256Hash": "z" * 64}}, HASH_MESSAGE),
        ({"persistedQuery": {"version": 1, "sha256Hash": QUERY_HASH + "\n"}}, HASH_MESSAGE),
        ({"persistedQuery": {"version": 1, "sha256Hash": 42}}, HASH_MESSAGE),
        ({"persistedQuery": {"version": 1}}, HASH_MESSAGE),
        ({"persistedQuery": "abc"}, "`extensions.persistedQuery` must be a JSON object."),
        ({"persistedQuery": [1]}, "`extensions.persistedQuery` must be a JSON object."),
        ([], "`extensions` must be a JSON object."),
        (42, "`extensions` must be a JSON object."),
        ('"text"', "`extensions` must be a JSON object."),
        ("{not json", "`extensions` is not valid JSON."),
    ],
)
def test_malformed_persisted_queries(extensions: object, message: str) -> None:
    with pytest.raises(PersistedQueryError) as caught:
        persisted_request(extensions)
    assert caught.value.code == "BAD_USER_INPUT"
    assert str(caught.value) == message


def test_check_hash() -> None:
    check_hash(QUERY, PersistedRequest(QUERY_HASH))
    with pytest.raises(PersistedQueryError) as caught:
        check_hash(QUERY + " ", PersistedRequest(QUERY_HASH))
    assert caught.value.code == "BAD_USER_INPUT"
    assert str(caught.value) == (
        "`extensions.persistedQuery.sha256Hash` does not match the query: it must be "
        "the SHA-256 of the query text (UTF-8), in hex."
    )


def test_sha256_of_utf8_text() -> None:
    text = "query { viewer { name } } # é"
    assert sha256_hex(text) == hashlib.sha256(text.encode()).hexdigest()
    assert len(sha256_hex(text)) == 64 and sha256_hex(text) == sha256_hex(text).lower()


# --- the in-process store -------------------------------------------------------------------


def local_store(capacity: int) -> PersistedStore:
    return create_persisted_store(settings(persisted_cache_bytes=capacity))


async def test_resolve_query() -> None:
    store = local_store(2**20)
    request = PersistedRequest(QUERY_HASH)
    with pytest.raises(PersistedQueryError) as caught:
        await resolve_query(store, request, None)
    assert (caught.value.code, str(caught.value)) == (
        "PERSISTED_QUERY_NOT_FOUND",
        NOT_FOUND_MESSAGE,
    )
    assert await resolve_query(store, request, QUERY) == QUERY
    with pytest.raises(PersistedQueryError, match="does not match"):
        await resolve_query(store, request, QUERY + " ")
    await store.put(QUERY_HASH, QUERY)
    assert await resolve_query(store, request, None) == QUERY


async def test_trusted_documents_answer_without_registration() -> None:
    store = local_store(0)  # nothing kept in the process: only the manifest answers
    sha256_hash, text = next(iter(trusted_documents().items()))
    assert store.trusted(sha256_hash)
    assert await store.get(sha256_hash) == text
    assert not store.trusted(QUERY_HASH)
    await store.put(QUERY_HASH, QUERY)
    assert await store.get(QUERY_HASH) is None
    assert not store.trusted(QUERY_HASH)  # registering never makes a query trusted


async def test_put_then_get() -> None:
    store = local_store(2**20)
    assert await store.get(QUERY_HASH) is None
    await store.put(QUERY_HASH, QUERY)
    assert await store.get(QUERY_HASH) == QUERY
    with pytest.raises(ValueError, match="not the query's"):
        await store.put(QUERY_HASH, QUERY + " ")


async def test_the_store_is_bounded_in_bytes_and_evicts_the_least_recently_used() -> None:
    entry = 1_000
    store = local_store(3 * (entry + ENTRY_OVERHEAD_BYTES))
    a, b, c, d = (query_of_size(entry, tag) for tag in "abcd")
    for text in (a, b, c):
        await store.put(sha256_hex(text), text)
    assert store.local.size == 3 * (entry + ENTRY_OVERHEAD_BYTES)
    assert await store.get(sha256_hex(a)) == a  # a is now the most recently used
    await store.put(sha256_hex(d), d)
    assert await store.get(sha256_hex(b)) is None  # b was the least recently used
    for text in (a, c, d):
        assert await store.get(sha256_hex(text)) == text
    assert len(store.local) == 3
    assert store.local.size <= store.local.capacity


async def test_bytes_not_characters_count() -> None:
    store = local_store(3_000)
    wide = "query W { viewer { id } } # " + "é" * 1_500  # 3,028 bytes, 1,528 characters
    await store.put(sha256_hex(wide), wide)
    assert await store.get(sha256_hex(wide)) is None


async def test_long_queries_are_never_kept() -> None:
    store = local_store(10 * MAX_PERSISTED_QUERY_BYTES)
    long = query_of_size(MAX_PERSISTED_QUERY_BYTES + 1, "long")
    await store.put(sha256_hex(long), long)
    assert await store.get(sha256_hex(long)) is None
    longest = query_of_size(MAX_PERSISTED_QUERY_BYTES, "max")
    await store.put(sha256_hex(longest), longest)
    assert await store.get(sha256_hex(longest)) == longest


# --- Redis ---------------------------------------------------------------------------------


def redis_store(prefix: str, url: str = REDIS_URL, **overrides: object) -> PersistedStore:
    return create_persisted_store(settings(redis_url=url, redis_key_prefix=prefix, **overrides))


async def test_put_and_get_on_redis(redis_prefix: str, raw_redis: Redis) -> None:
    store = redis_store(redis_prefix)
    try:
        assert await store.get(QUERY_HASH) is None
        await store.put(QUERY_HASH, QUERY)
        key = f"{redis_prefix}apq:{QUERY_HASH}"
        assert await raw_redis.get(key) == QUERY
        assert REDIS_TTL_SECONDS - 60 < await raw_redis.ttl(key) <= REDIS_TTL_SECONDS
        assert await store.get(QUERY_HASH) == QUERY
    finally:
        await store.close()


async def test_two_stores_on_one_redis_share_registrations(redis_prefix: str) -> None:
    one, two = redis_store(redis_prefix), redis_store(redis_prefix)
    try:
        await one.put(QUERY_HASH, QUERY)
        assert QUERY_HASH not in two.local
        assert await two.get(QUERY_HASH) == QUERY
        assert QUERY_HASH in two.local  # kept near: the next get does not ask Redis
        other = "query Other { viewer { name } }"
        await two.put(sha256_hex(other), other)
        assert await one.get(sha256_hex(other)) == other
    finally:
        await one.close()
        await two.close()


async def test_other_prefixes_are_other_stores(redis_prefix: str) -> None:
    one, two = redis_store(redis_prefix), redis_store(redis_prefix + "other:")
    try:
        await one.put(QUERY_HASH, QUERY)
        assert await two.get(QUERY_HASH) is None
    finally:
        await one.close()
        await two.close()


async def test_a_tampered_value_in_redis_is_ignored(redis_prefix: str, raw_redis: Redis) -> None:
    store = redis_store(redis_prefix)
    try:
        await raw_redis.set(f"{redis_prefix}apq:{QUERY_HASH}", "mutation { deleteAccount }")
        assert await store.get(QUERY_HASH) is None
    finally:
        await store.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed again: connecting is refused


async def test_redis_down_falls_back_to_the_process(caplog: pytest.LogCaptureFixture) -> None:
    store = redis_store("harmony-test:down:", url=f"redis://127.0.0.1:{closed_port()}/0")
    before_get, before_put = errors_counted("apq_get"), errors_counted("apq_put")
    try:
        with caplog.at_level(logging.WARNING, logger="app.edge"):
            started = time.perf_counter()
            assert await store.get(QUERY_HASH) is None  # a miss: the client re-sends the text
            assert time.perf_counter() - started < TIMEOUT + 0.5
            assert errors_counted("apq_get") == before_get + 1
            # Redis is skipped for a moment: no second attempt, nothing more counted.
            await store.put(QUERY_HASH, QUERY)
            assert await store.get(QUERY_HASH) == QUERY  # from this process
            assert errors_counted("apq_put") == before_put
            # After the back-off Redis is tried again; the failure is counted, not logged.
            store._guard._skip_until = 0.0  # the back-off is over
            other = "query Other { viewer { name } }"
            await store.put(sha256_hex(other), other)
            assert errors_counted("apq_put") == before_put + 1
            assert await store.get(sha256_hex(other)) == other
        warnings = [r for r in caplog.records if r.name == "app.edge"]
        assert len(warnings) == 1, [r.getMessage() for r in warnings]
        assert "Redis failed" in warnings[0].getMessage()
    finally:
        await store.close()


async def test_a_silent_redis_costs_the_timeout_once() -> None:
    """A server that accepts and never answers: each call is bounded by the timeout."""
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    store = redis_store("harmony-test:silent:", url=f"redis://127.0.0.1:{port}/0")
    before = errors_counted("apq_get")
    try:
        started = time.perf_counter()
        assert await store.get(QUERY_HASH) is None
        elapsed = time.perf_counter() - started
        assert TIMEOUT * 0.8 <= elapsed < TIMEOUT + 0.5
        assert errors_counted("apq_get") == before + 1
        started = time.perf_counter()
        assert await store.get(QUERY_HASH) is None  # skipped: no wait at all
        assert time.perf_counter() - started < 0.05
    finally:
        await store.close()
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
