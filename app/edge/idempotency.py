"""``Idempotency-Key``: a mutation retried with the same key is answered, not run again.

A client that sends a mutation with the header ``Idempotency-Key: <key>`` (1-255
printable ASCII characters) and does not hear back may send the same request again with
the same key: within ``IDEMPOTENCY_TTL_SECONDS`` (24 h) it gets the first answer (same
status, same JSON, plus ``Idempotent-Replayed: true``) and the mutation does not run a
second time. Keys belong to the principal that sent them (the user, or the API key):
another principal's same key is another key. The request is recognised by its
fingerprint (the document's text, the operation name and the variables):

- the same key with another request: ``BAD_USER_INPUT``, HTTP 422, nothing runs;
- the same key while its first request is still running: ``IDEMPOTENCY_KEY_IN_USE``,
  HTTP 409 with ``Retry-After: 1``, nothing runs;
- only an answer of an operation that ran is kept (userErrors and field errors
  included: running it again would say the same); a request refused before it ran
  (a limit, 429, 503), one past its deadline (504) and one whose answer holds an
  internal or database error release the key: the retry runs.

Queries ignore the header (nothing of this is on their path). The step runs after
authentication, the cost charge and validation (app.edge.pipeline), so nothing anonymous
or unrunnable is kept.

Records live in Redis when ``REDIS_URL`` is set (shared by every worker and instance;
the claim is one atomic script, so two workers cannot both run a key), else in the
process (bounded in bytes, expiring). Redis failing follows app.edge.shared's policy:
the worker's own store answers meanwhile (a retry reaching the same worker is still
recognised).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import ExecutionResult
from redis.asyncio import Redis
from starlette.responses import Response

from app.config import Settings
from app.edge.errors import Refused
from app.edge.lru import ByteLRU
from app.edge.shared import RedisBacked, RedisGuard, redis_client_for
from app.graphql.schema import error_code

HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
_KEY = re.compile(rf"[\x20-\x7e]{{1,{MAX_KEY_LENGTH}}}")
# Answers of operations whose retry must run again (the first did not finish its work).
RETRYABLE_CODES = frozenset({"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE", "TIMEOUT"})
LOCAL_CAPACITY_BYTES = 16 * 2**20
ENTRY_OVERHEAD_BYTES = 300
MAX_LOCAL_CLAIMS = 1_000

# The claim: return the record under KEYS[1] if there is one, else write ARGV[1] there
# (expiring in ARGV[2] seconds) and return nothing. One step, so two workers cannot both
# claim a key.
_CLAIM = """
local held = redis.call('GET', KEYS[1])
if held then return held end
redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
return false
"""
# Release a claim: delete the record only while it is still this claim's.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def read_key(raw: str | None) -> str | None:
    """The header's key (None: no header); ``BAD_USER_INPUT`` (400) when malformed."""
    if raw is None:
        return None
    if _KEY.fullmatch(raw) is None or not raw.strip():
        raise Refused(
            "BAD_USER_INPUT",
            f"The Idempotency-Key header must be 1-{MAX_KEY_LENGTH} printable ASCII "
            "characters (a UUID is a good key).",
            status=400,
        )
    return raw


def fingerprint(query: str, operation_name: str | None, variables: Any) -> str:
    """What makes two requests the same: the text, the operation and the variables
    (their keys in any order)."""
    request = {"query": query, "operationName": operation_name, "variables": variables or {}}
    return hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True, slots=True)
class Answer:
    """A kept answer, replayed as it was."""

    status: int
    content_type: str
    body: bytes

    @classmethod
    def of(cls, response: Response) -> Answer:
        return cls(response.status_code, response.headers["content-type"], bytes(response.body))

    def response(self) -> Response:
        return Response(
            self.body,
            self.status,
            {REPLAYED_HEADER: "true", "content-type": self.content_type, "vary": "Accept"},
        )


@dataclass(frozen=True, slots=True)
class Claim:
    """A key taken by the request that runs it, until it is kept or released."""

    record: str
    fingerprint: str
    token: str
    in_redis: bool

    def pending(self) -> bytes:
        return orjson.dumps({"fingerprint": self.fingerprint, "token": self.token})


def ran_to_the_end(status: int, result: ExecutionResult) -> bool:
    """Whether an answer is kept for replay: the operation ran (``data``), and nothing in
    it says its work was cut short (an internal or database error)."""
    if status != 200 or result.data is None:
        return False
    return not any(error_code(e) in RETRYABLE_CODES for e in result.errors or [])


def _mismatch() -> Refused:
    return Refused(
        "BAD_USER_INPUT",
        "This Idempotency-Key was used with another request: use a new key for a new request.",
        status=422,
    )


def _in_use() -> Refused:
    return Refused(
        "IDEMPOTENCY_KEY_IN_USE",
        "A request with this Idempotency-Key is still running: retry once it has answered.",
        status=409,
        headers={"Retry-After": "1"},
    )


class IdempotencyStore(RedisBacked):
    """Claims and kept answers. One per worker process."""

    def __init__(
        self,
        *,
        ttl_seconds: int,
        claim_seconds: float,
        redis: Redis | None = None,
        key_prefix: str = "harmony:",
        timeout_seconds: float = 0.25,
        capacity_bytes: int = LOCAL_CAPACITY_BYTES,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        # A claim outlives the longest request, so that a worker dying mid-request frees
        # its key soon after rather than in 24 h.
        self._claim_seconds = max(1, int(claim_seconds) + 1)
        self._claimed: dict[str, tuple[str, float]] = {}  # record -> (fingerprint, until)
        self._answers = ByteLRU[str, tuple[str, float, Answer]](capacity_bytes)
        guard = RedisGuard("idempotency keys", "keeping keys in this process")
        super().__init__(redis, key_prefix, timeout_seconds, guard)
        self._claim_script = redis.register_script(_CLAIM) if redis is not None else None
        self._release_script = redis.register_script(_RELEASE) if redis is not None else None

    def record(self, principal: str, key: str) -> str:
        digest = hashlib.sha256(key.encode("ascii")).hexdigest()
        return f"{self._key_prefix}idem:{principal}:{digest}"

    async def begin(self, principal: str, key: str, request: str) -> Claim | Answer:
        """The kept answer to replay, or the claim under which the request runs;
        ``Refused`` for a key used with another request or still running."""
        record = self.record(principal, key)
        claim = Claim(record, request, secrets.token_hex(8), in_redis=self._redis_available())
        if claim.in_redis:
            assert self._claim_script is not None
            try:
                async with asyncio.timeout(self._timeout):
                    held = await self._claim_script(
                        keys=[record], args=[claim.pending(), self._claim_seconds]
                    )
            except Exception as exc:  # any failure or timeout: this worker's store answers
                self._guard.failed("idempotency_claim", exc)
                claim = Claim(record, request, claim.token, in_redis=False)
            else:
                self._guard.answered()
                return claim if held is None else self._held(orjson.loads(held), request)
        return self._begin_locally(claim)

    def _held(self, held: dict[str, Any], request: str) -> Answer:
        if held.get("fingerprint") != request:
            raise _mismatch()
        if "status" not in held:
            raise _in_use()
        return Answer(held["status"], held["contentType"], held["body"].encode())

    def _begin_locally(self, claim: Claim) -> Claim | Answer:
        now = time.monotonic()
        kept = self._answers.get(claim.record)
        if kept is not None and kept[1] > now:
            if kept[0] != claim.fingerprint:
                raise _mismatch()
            return kept[2]
        running = self._claimed.get(claim.record)
        if running is not None and running[1] > now:
            raise _mismatch() if running[0] != claim.fingerprint else _in_use()
        if len(self._claimed) >= MAX_LOCAL_CLAIMS:  # claims a crash never ended
            self._claimed = {k: v for k, v in self._claimed.items() if v[1] > now}
        self._claimed[claim.record] = (claim.fingerprint, now + self._claim_seconds)
        return claim

    async def keep(self, claim: Claim, answer: Answer) -> None:
        """The request ran: its answer is what the key replays from now on."""
        if claim.in_redis:
            value = orjson.dumps(
                {
                    "fingerprint": claim.fingerprint,
                    "status": answer.status,
                    "contentType": answer.content_type,
                    "body": answer.body.decode(),
                }
            )
            assert self._redis is not None
            try:
                async with asyncio.timeout(self._timeout):
                    await self._redis.set(claim.record, value, ex=self.ttl_seconds)
            except Exception as exc:  # kept here only: the claim expires in Redis
                self._guard.failed("idempotency_keep", exc)
            else:
                self._guard.answered()
                return
        self._claimed.pop(claim.record, None)
        size = len(answer.body) + len(claim.record) + ENTRY_OVERHEAD_BYTES
        until = time.monotonic() + self.ttl_seconds
        self._answers.put(claim.record, (claim.fingerprint, until, answer), size)

    async def release(self, claim: Claim) -> None:
        """The request did not finish its work: the key is free for the retry."""
        if not claim.in_redis:
            self._claimed.pop(claim.record, None)
            return
        assert self._release_script is not None
        try:
            async with asyncio.timeout(self._timeout):
                await self._release_script(keys=[claim.record], args=[claim.pending()])
        except Exception as exc:  # the claim expires by itself
            self._guard.failed("idempotency_release", exc)
        else:
            self._guard.answered()


def create_idempotency_store(settings: Settings) -> IdempotencyStore:
    """The store of one worker process: Redis-backed when ``REDIS_URL`` is set."""
    return IdempotencyStore(
        ttl_seconds=settings.idempotency_ttl_seconds,
        claim_seconds=settings.request_timeout_seconds * 2,
        redis=redis_client_for(settings),
        key_prefix=settings.redis_key_prefix,
        timeout_seconds=settings.redis_timeout_seconds,
    )
