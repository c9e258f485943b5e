"""Persisted operations: the text of a document, supplied by its hash.

Apollo's Automatic Persisted Queries protocol: a request may carry
``extensions.persistedQuery = {"version": 1, "sha256Hash": "<hex>"}``, the hash being the
SHA-256 of the query text (UTF-8), in lowercase hex.

- Hash only: the text comes from the trusted-documents manifest (the SPA's operations,
  ``app/edge/trusted_documents.json``, generated from ``operations/spa/*.graphql`` by
  ``python -m app persisted-manifest``) or from the store of registered queries; when
  neither has it, the answer is ``PERSISTED_QUERY_NOT_FOUND`` and an Apollo client sends
  the hash again with the text.
- Hash and text: the hash must be the text's (``check_hash``); once the request is
  known to be authenticated and the document valid, the caller registers it (``put``).

Registered queries live in Redis when ``REDIS_URL`` is set (shared by every worker and
instance, 7 days), and always in a byte-bounded LRU in the process. Redis is never
needed for an answer: a failed or slow call counts as a miss (the client re-sends the
text), is counted and logged (at most every 30 s), and Redis is skipped for a moment.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from graphql import OperationDefinitionNode, parse
from redis.asyncio import Redis

from app.config import Settings
from app.edge.lru import ByteLRU
from app.edge.shared import RedisBacked, RedisGuard, redis_client_for

log = logging.getLogger("app.edge")

MANIFEST_PATH = Path(__file__).with_name("trusted_documents.json")
MANIFEST_FORMAT = 1

# Never keep a query longer than this (UTF-8 bytes): it is sent with its text each time.
MAX_PERSISTED_QUERY_BYTES = 100_000
# Estimated bookkeeping per in-process entry (key, OrderedDict node, str header).
ENTRY_OVERHEAD_BYTES = 200
REDIS_TTL_SECONDS = 7 * 24 * 3600

NOT_FOUND_MESSAGE = "PersistedQueryNotFound"  # Apollo clients (iOS, Kotlin) match the text

ErrorCode = Literal["PERSISTED_QUERY_NOT_FOUND", "BAD_USER_INPUT"]

_HASH = re.compile(r"[0-9a-fA-F]{64}")


class PersistedQueryError(Exception):
    """A request-level error about a persisted query; ``code`` is its ``extensions.code``."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: ErrorCode = code


def persisted_query_not_found() -> PersistedQueryError:
    """The answer to a hash nobody registered: the client re-sends it with the text."""
    return PersistedQueryError("PERSISTED_QUERY_NOT_FOUND", NOT_FOUND_MESSAGE)


@dataclass(frozen=True, slots=True)
class PersistedRequest:
    """What a request's ``extensions.persistedQuery`` asked for."""

    sha256_hash: str  # 64 lowercase hex characters


def _bad(message: str) -> PersistedQueryError:
    return PersistedQueryError("BAD_USER_INPUT", message)


def persisted_request(extensions: object) -> PersistedRequest | None:
    """Parse a request's ``extensions``: None when it asks for no persisted query.

    ``extensions`` is the decoded JSON value of the POST body's ``extensions``, or the
    raw text of the GET parameter (decoded here). Malformed input is ``BAD_USER_INPUT``.
    """
    if extensions is None:
        return None
    if isinstance(extensions, str | bytes):
        try:
            extensions = json.loads(extensions)
        except (ValueError, RecursionError):
            raise _bad("`extensions` is not valid JSON.") from None
    if not isinstance(extensions, dict):
        raise _bad("`extensions` must be a JSON object.")
    persisted = extensions.get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict):
        raise _bad("`extensions.persistedQuery` must be a JSON object.")
    version = persisted.get("version")
    # bool is an int in Python; JSON true is not the version number 1.
    if type(version) is not int or version != 1:
        raise _bad(
            "Unsupported persisted query version: `extensions.persistedQuery.version` must be 1."
        )
    sha256_hash = persisted.get("sha256Hash")
    if not isinstance(sha256_hash, str) or _HASH.fullmatch(sha256_hash) is None:
        raise _bad(
            "`extensions.persistedQuery.sha256Hash` must be the SHA-256 of the query text: "
            "64 hexadecimal characters."
        )
    return PersistedRequest(sha256_hash.lower())


def sha256_hex(query: str) -> str:
    """SHA-256 of the query text (UTF-8), lowercase hex. Never raises (lone surrogates pass)."""
    return hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest()


def check_hash(query: str, request: PersistedRequest) -> None:
    """Refuse a text sent with a hash that is not its own."""
    if sha256_hex(query) != request.sha256_hash:
        raise _bad(
            "`extensions.persistedQuery.sha256Hash` does not match the query: it must be "
            "the SHA-256 of the query text (UTF-8), in hex."
        )


async def resolve_query(store: PersistedStore, request: PersistedRequest, query: str | None) -> str:
    """The text a persisted request runs: the one it sent (checked against its hash) or
    the one registered under its hash; ``PERSISTED_QUERY_NOT_FOUND`` when there is none.

    A text that came with the request is registered by the caller (``store.put``) once
    the request is authenticated and the document valid, unless ``store.trusted(hash)``.
    """
    if query:
        check_hash(query, request)
        return query
    text = await store.get(request.sha256_hash)
    if text is None:
        raise persisted_query_not_found()
    return text


# ---- the trusted documents --------------------------------------------------------------


def parse_manifest(text: str) -> Mapping[str, str]:
    """The operations of a manifest's text, hash -> document; ValueError when malformed."""
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"not a trusted-documents manifest of format {MANIFEST_FORMAT}")
    operations = data.get("operations")
    if not isinstance(operations, dict):
        raise ValueError("the manifest has no `operations` object")
    for sha256_hash, document in operations.items():
        if not isinstance(document, str) or sha256_hex(document) != sha256_hash:
            raise ValueError(f"manifest entry {sha256_hash} is not the hash of its document")
    return MappingProxyType(dict(operations))


@lru_cache(maxsize=1)
def trusted_documents() -> Mapping[str, str]:
    """The committed manifest (the SPA's operations), read once per process."""
    return parse_manifest(MANIFEST_PATH.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def trusted_operation_names() -> frozenset[str]:
    """The operation names of the trusted documents (they label the request metrics as
    they are: app.observability.access.label_operations)."""
    names = set()
    for text in trusted_documents().values():
        for definition in parse(text, no_location=True).definitions:
            if isinstance(definition, OperationDefinitionNode) and definition.name:
                names.add(definition.name.value)
    return frozenset(names)


# ---- the store ------------------------------------------------------------------------


class PersistedStore(RedisBacked):
    """Registered queries and the trusted documents. One per worker process."""

    def __init__(
        self,
        *,
        capacity_bytes: int,
        manifest: Mapping[str, str],
        redis: Redis | None = None,
        key_prefix: str = "harmony:",
        timeout_seconds: float = 0.25,
    ) -> None:
        self._manifest = manifest
        self._local = ByteLRU[str, str](capacity_bytes)
        guard = RedisGuard(
            "persisted queries",
            "answering from this process (unknown hashes: clients re-send the text)",
        )
        super().__init__(redis, key_prefix, timeout_seconds, guard)

    @property
    def local(self) -> ByteLRU[str, str]:
        """The in-process entries (tests and diagnostics)."""
        return self._local

    def key(self, sha256_hash: str) -> str:
        return f"{self._key_prefix}apq:{sha256_hash}"

    def trusted(self, sha256_hash: str) -> bool:
        """Whether the hash is one of the committed trusted documents (the SPA's)."""
        return sha256_hash in self._manifest

    async def get(self, sha256_hash: str) -> str | None:
        """The text registered under the hash: the manifest, this process, then Redis."""
        text = self._manifest.get(sha256_hash)
        if text is None:
            text = self._local.get(sha256_hash)
        if text is not None or not self._redis_available():
            return text
        assert self._redis is not None
        try:
            async with asyncio.timeout(self._timeout):
                raw = await self._redis.get(self.key(sha256_hash))
        except Exception as exc:  # any failure or timeout: a miss, the client re-sends
            self._guard.failed("apq_get", exc)
            return None
        self._guard.answered()
        if not isinstance(raw, bytes):
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
        # Whoever can write to Redis must not be able to substitute a document.
        if sha256_hex(text) != sha256_hash:
            log.warning("persisted query %s in Redis does not match its hash: ignored", sha256_hash)
            return None
        self._local.put(sha256_hash, text, len(raw) + ENTRY_OVERHEAD_BYTES)
        return text

    async def put(self, sha256_hash: str, query: str) -> None:
        """Register a query under its hash (already checked with ``check_hash``)."""
        if sha256_hash in self._manifest:
            return
        try:
            encoded = query.encode("utf-8")
        except UnicodeEncodeError:
            return  # lone surrogates: not a document anyone can send again as JSON
        if len(encoded) > MAX_PERSISTED_QUERY_BYTES:
            return
        if sha256_hex(query) != sha256_hash:
            raise ValueError("put: the hash is not the query's (call check_hash first)")
        self._local.put(sha256_hash, query, len(encoded) + ENTRY_OVERHEAD_BYTES)
        if not self._redis_available():
            return
        assert self._redis is not None
        try:
            async with asyncio.timeout(self._timeout):
                await self._redis.set(self.key(sha256_hash), encoded, ex=REDIS_TTL_SECONDS)
        except Exception as exc:  # any failure or timeout: kept in this process only
            self._guard.failed("apq_put", exc)
        else:
            self._guard.answered()


def create_persisted_store(settings: Settings) -> PersistedStore:
    """The store of one worker process: Redis-backed when ``REDIS_URL`` is set."""
    return PersistedStore(
        capacity_bytes=settings.persisted_cache_bytes,
        manifest=trusted_documents(),
        redis=redis_client_for(settings),
        key_prefix=settings.redis_key_prefix,
        timeout_seconds=settings.redis_timeout_seconds,
    )
