"""Rate limiting by query cost: one token bucket per principal.

A principal ("key:12", "user:7") has a bucket of ``RATE_LIMIT_POINTS`` points that refills
continuously at ``RATE_LIMIT_RESTORE_PER_SECOND``, up to full; a bucket never seen is full.
An operation is charged its cost: taken whole if the bucket holds it, else nothing is
taken and the answer says how many whole seconds until it would fit (``Retry-After``).

With ``REDIS_URL`` every worker and replica shares one bucket per principal: the key
``{REDIS_KEY_PREFIX}rl:{principal}`` (a hash: points ``p``, time ``t``), read, refilled,
charged and written atomically by one Lua script. The charges that reach Redis in the
same turn of the event loop go in one call of the script (each bucket charged in turn),
on one pipelined connection per worker (app.edge.pipelined). The script reads the
clock with Redis's own ``TIME``, so all processes agree on elapsed time whatever their
clocks say. The key expires when its bucket would be full again (a missing key is a full
bucket), so idle principals cost nothing.

Cheap operations of a busy principal take points in advance (a *lease*): when an
operation costs at most 1/160 of the bucket, the script also takes up to 64 more such
operations' worth (never more than 1/20 of the bucket, and only while the bucket keeps
at least half its size after it), and the worker spends them on its own for up to
``LEASE_SECONDS``; what is left is given back to the shared bucket with the worker's
next charge of that principal. A lease is taken from the shared bucket before it is
spent, so no principal ever spends more than its budget across workers; what it costs
is precision far from the limit: another worker sees the leased points as spent (at
most 1/20 of the bucket per worker, for at most a second), and ``currentlyAvailable``
does not count what was restored during the lease. Near the limit (under half the
bucket) every charge is decided by Redis alone. A busy client's cheap queries then
cost one round trip to Redis in many instead of one each.

Without Redis, buckets live in this process (an LRU bounded in principals). They are
also the fallback: a Redis call that fails or exceeds ``REDIS_TIMEOUT_SECONDS`` is
answered from them (each worker then enforces the budget on its own, starting from the
last shared value it saw for the principal), with the failure policy of app.edge.shared.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from app.config import Settings
from app.edge.pipelined import ScriptChannel
from app.edge.shared import BACKOFF_SECONDS, RedisGuard

log = logging.getLogger("app.edge")

MAX_LOCAL_PRINCIPALS = 100_000

# KEYS: the buckets charged together; ARGV: maximum, restore rate (points/s), then per
# key: its cost, the points of an unspent lease given back, the lease wanted. Each bucket
# is charged in order (a key may come twice). Returns, per key, allowed (0|1),
# floor(points left), retry after (s, 0 when allowed), the lease granted (points taken
# besides the cost; granted only while at least half the bucket stays).
# Numbers are written with %.17g: Redis would otherwise format them with 14 digits.
CHARGE_LUA = """
local maximum = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local out = {}
local function store(key, points)
  redis.call('HSET', key, 'p', string.format('%.17g', points), 't', string.format('%.17g', now))
  redis.call('PEXPIRE', key, math.max(1, math.ceil((maximum - points) / rate * 1000)))
end
for i, key in ipairs(KEYS) do
  local cost = tonumber(ARGV[3 * i])
  local given_back = tonumber(ARGV[3 * i + 1])
  local wanted = tonumber(ARGV[3 * i + 2])
  local state = redis.call('HMGET', key, 'p', 't')
  local points = maximum
  if state[1] and state[2] then
    local elapsed = math.max(0, now - tonumber(state[2]))
    points = math.min(maximum, tonumber(state[1]) + elapsed * rate + given_back)
  end
  if cost > points then
    if given_back > 0 and points < maximum then
      store(key, points)
    end
    out[#out + 1] = 0
    out[#out + 1] = math.floor(points)
    out[#out + 1] = math.max(1, math.ceil((cost - points) / rate))
    out[#out + 1] = 0
  else
    points = points - cost
    local lease = 0
    if wanted > 0 and points - wanted >= maximum / 2 then
      lease = wanted
      points = points - lease
    end
    store(key, points)
    out[#out + 1] = 1
    out[#out + 1] = math.floor(points)
    out[#out + 1] = 0
    out[#out + 1] = lease
  end
end
return out
"""

# A lease: at most LEASE_SHARE-th of the bucket, at most LEASE_MAX_OPERATIONS operations of
# the cost that asked for it, and only for operations cheap enough to lease at least
# LEASE_MIN_OPERATIONS of them; spent within LEASE_SECONDS (then given back).
LEASE_SHARE = 20
LEASE_MIN_OPERATIONS = 8
LEASE_MAX_OPERATIONS = 64
LEASE_SECONDS = 1.0


@dataclass(slots=True)
class _Lease:
    points: int  # taken from the shared bucket in advance, not spent yet
    shared: int  # the shared bucket's points (leases taken) when last heard of
    until: float  # monotonic time after which it is given back


@dataclass(frozen=True, slots=True)
class ThrottleStatus:
    maximum_available: int
    currently_available: int
    restore_rate: float

    def as_json(self) -> dict[str, Any]:
        return {
            "maximumAvailable": self.maximum_available,
            "currentlyAvailable": self.currently_available,
            "restoreRate": self.restore_rate,
        }


@dataclass(frozen=True, slots=True)
class Charge:
    allowed: bool
    status: ThrottleStatus
    retry_after: int  # whole seconds until ``cost`` fits (>= 1) when refused; 0 when allowed


class _LocalBuckets:
    """principal -> (points, monotonic time of that value); least recently charged evicted."""

    def __init__(self, maximum: int, rate: float, capacity: int) -> None:
        self._maximum = maximum
        self._rate = rate
        self._capacity = capacity
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def charge(self, principal: str, cost: int) -> tuple[bool, float]:
        """(allowed, points left)."""
        now = time.monotonic()
        state = self._buckets.get(principal)
        points = float(self._maximum)
        if state is not None:
            points = min(points, state[0] + max(0.0, now - state[1]) * self._rate)
        allowed = cost <= points
        if allowed:
            points -= cost
        self.set(principal, points, now)
        return allowed, points

    def set(self, principal: str, points: float, now: float) -> None:
        self._buckets[principal] = (points, now)
        self._buckets.move_to_end(principal)
        if len(self._buckets) > self._capacity:
            self._buckets.popitem(last=False)


class RateLimiter:
    """One per worker process (see ``create_rate_limiter``)."""

    def __init__(
        self,
        *,
        points: int,
        restore_per_second: float,
        channel: ScriptChannel | None = None,
        key_prefix: str = "harmony:",
        backoff_seconds: float = BACKOFF_SECONDS,
        max_local_principals: int = MAX_LOCAL_PRINCIPALS,
    ) -> None:
        self._maximum = points
        self._rate = restore_per_second
        self._local = _LocalBuckets(points, restore_per_second, max_local_principals)
        self._channel = channel
        self._key_prefix = key_prefix
        self._guard = RedisGuard(
            "rate limiting",
            "each worker enforces the budget on its own meanwhile",
            backoff_seconds,
        )
        self._args = (b"%d" % points, repr(restore_per_second).encode())
        self._batch: list[tuple[str, int, int, int, asyncio.Future[tuple[int, int, int, int]]]]
        self._batch = []
        self._leases: dict[str, _Lease] = {}
        self._lease_points = points // LEASE_SHARE

    async def charge(self, principal: str, cost: int) -> Charge:
        """Take ``cost`` points from the principal's bucket if it holds them, else nothing.

        ``cost`` 0 reads the bucket. A cost above the bucket size could never be admitted:
        the cost limit (``MAX_QUERY_COST`` <= ``RATE_LIMIT_POINTS``) refuses it first.
        With Redis, the charges that reach this point in one turn of the event loop go
        in one script call (each still atomic, in order): under load a request pays a
        fraction of a round trip.
        """
        if not 0 <= cost <= self._maximum:
            raise ValueError(f"cost must be within 0..{self._maximum}, not {cost}")
        if self._channel is not None and self._guard.available():
            now = time.monotonic()
            given_back = 0
            lease = self._leases.pop(principal, None)
            if lease is not None:
                if cost <= lease.points and now < lease.until:
                    lease.points -= cost
                    self._leases[principal] = lease
                    return self._result(True, lease.shared + lease.points, 0)
                given_back = lease.points
            shared = await self._charge_in_redis(principal, cost, given_back, self._wanted(cost))
            if shared is not None:
                allowed, available, retry_after, granted = shared
                if granted:
                    self._lease(principal, granted, now)
                held = self._leases.get(principal)
                if held is not None:  # leased points are this principal's, not spent yet
                    held.shared = available
                    available += held.points
                # The fallback then starts from the shared value, not from a full bucket.
                self._local.set(principal, float(available), now)
                return self._result(bool(allowed), available, retry_after)
        allowed_here, points = self._local.charge(principal, cost)
        retry = 0 if allowed_here else max(1, math.ceil((cost - points) / self._rate))
        return self._result(allowed_here, math.floor(points), retry)

    def _wanted(self, cost: int) -> int:
        """The lease an operation of ``cost`` asks for with its charge (0: none)."""
        if cost == 0:
            return 0
        operations = min(self._lease_points // cost, LEASE_MAX_OPERATIONS)
        return operations * cost if operations >= LEASE_MIN_OPERATIONS else 0

    def _lease(self, principal: str, granted: int, now: float) -> None:
        """Keep ``granted`` points for this worker (with a lease already here: add them)."""
        held = self._leases.get(principal)
        if held is None:
            self._leases[principal] = _Lease(granted, 0, now + LEASE_SECONDS)
        else:
            held.points += granted
        if len(self._leases) > MAX_LOCAL_PRINCIPALS:  # the oldest lease is forgotten
            del self._leases[next(iter(self._leases))]

    async def _charge_in_redis(
        self, principal: str, cost: int, given_back: int, wanted: int
    ) -> tuple[int, int, int, int] | None:
        """The shared bucket's answer, or None (Redis failed: the caller falls back).

        The first charge of a loop turn leads: it yields once, so that the charges that
        reach this point meanwhile join it, and sends them all in one call. Of the
        charges of one principal in a call, only the first asks for a lease."""
        assert self._channel is not None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[int, int, int, int]] = loop.create_future()
        if wanted and any(p == principal and w for p, _, _, w, _ in self._batch):
            wanted = 0
        self._batch.append((principal, cost, given_back, wanted, future))
        if len(self._batch) > 1:  # a follower: the leader answers
            try:
                return await future
            except Exception:
                return None
        try:
            await asyncio.sleep(0)
        finally:
            batch, self._batch = self._batch, []  # even if the leader is cancelled
        followers = [waiting for *_, waiting in batch if waiting is not future]
        arguments = [b"%d" % n for _, cost, back, want, _ in batch for n in (cost, back, want)]
        try:
            reply = await self._channel.call(
                [f"{self._key_prefix}rl:{p}" for p, *_ in batch], [*self._args, *arguments]
            )
            values = [int(x) for x in reply]
            if len(values) != 4 * len(batch):
                raise ValueError(f"unexpected reply of {len(values)} values")
        except BaseException as exc:
            for waiting in followers:  # they fall back on their own
                if not waiting.done():
                    waiting.set_exception(ConnectionError("the shared charge failed"))
            if not isinstance(exc, Exception):
                raise  # the leader was cancelled (its deadline)
            self._guard.failed("charge", exc)  # any failure or timeout: the fallback
            return None
        self._guard.answered()
        for i, (*_, waiting) in enumerate(batch):
            if not waiting.done():
                waiting.set_result(
                    (values[4 * i], values[4 * i + 1], values[4 * i + 2], values[4 * i + 3])
                )
        return future.result()

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()

    def _result(self, allowed: bool, available: int, retry_after: int) -> Charge:
        status = ThrottleStatus(self._maximum, max(0, available), self._rate)
        return Charge(allowed, status, retry_after)


def create_rate_limiter(settings: Settings) -> RateLimiter:
    """Shared buckets in Redis when ``REDIS_URL`` is set, else in this process."""
    channel = None
    if settings.redis_url:
        channel = ScriptChannel(settings.redis_url, CHARGE_LUA, settings.redis_timeout_seconds)
    return RateLimiter(
        points=settings.rate_limit_points,
        restore_per_second=settings.rate_limit_restore_per_second,
        channel=channel,
        key_prefix=settings.redis_key_prefix,
    )


class PenaltyBox:
    """Credentials refused for lack of points, until their ``Retry-After`` has passed.

    A request of a credential in the box is answered 429 at once, before the database,
    the parser or Redis are asked: a client that keeps sending after a 429 costs the
    worker almost nothing. Per worker process, bounded, keyed by the credential (a user
    id whose token signature was verified, or an API key's whole secret: only its holder
    can be refused through it)."""

    def __init__(self, capacity: int = MAX_LOCAL_PRINCIPALS) -> None:
        self._capacity = capacity
        self._held: OrderedDict[str, tuple[float, ThrottleStatus]] = OrderedDict()

    def hold(self, key: str, seconds: int, status: ThrottleStatus) -> None:
        self._held[key] = (time.monotonic() + seconds, status)
        self._held.move_to_end(key)
        if len(self._held) > self._capacity:
            self._held.popitem(last=False)

    def held(self, key: str) -> tuple[int, ThrottleStatus] | None:
        """(seconds left, the bucket as last seen) while the key is held."""
        entry = self._held.get(key)
        if entry is None:
            return None
        left = entry[0] - time.monotonic()
        if left <= 0:
            del self._held[key]
            return None
        return math.ceil(left), entry[1]
