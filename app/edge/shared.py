"""The edge's shared state in Redis: how a client is made, and what happens when Redis
fails (one policy for every user of it: the rate limiter, persisted queries).

Redis slow or down never becomes a hang or an error: every call is bounded by
``REDIS_TIMEOUT_SECONDS``; a call that fails or times out is answered from the worker's
own state by the caller; the failure is counted in
``harmony_rate_limit_backend_errors_total{operation}``, logged at most once per 30 s (with
how many failed since), and Redis is then skipped for 2 s so that a dead Redis costs the
timeout once, not on every request. The first success after a logged outage is logged
too.
"""

from __future__ import annotations

import logging
import math
import time

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.config import Settings
from app.observability.metrics import RATE_LIMIT_BACKEND_ERRORS

log = logging.getLogger("app.edge")

BACKOFF_SECONDS = 2.0  # after a failure, skip Redis this long
WARN_EVERY_SECONDS = 30.0
MAX_CONNECTIONS = 32  # per worker and client; a call holds one for well under a millisecond


def create_redis_client(url: str, timeout_seconds: float) -> Redis:
    """One pool per worker: bounded connections, every wait and read bounded, no retries
    (the caller's fallback answers instead)."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=timeout_seconds,  # waiting for a free connection
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        retry=Retry(NoBackoff(), 0),
    )
    return Redis.from_pool(pool)


def redis_client_for(settings: Settings) -> Redis | None:
    """A worker's client of ``REDIS_URL``; None without it (state kept in process)."""
    if not settings.redis_url:
        return None
    return create_redis_client(settings.redis_url, settings.redis_timeout_seconds)


class RedisGuard:
    """The failure policy above, for one user of Redis (``what``, e.g. "rate limiting")."""

    def __init__(self, what: str, fallback: str, backoff_seconds: float = BACKOFF_SECONDS):
        self._what = what
        self._fallback = fallback  # what the caller does meanwhile, for the log line
        self._backoff = backoff_seconds
        self._skip_until = 0.0
        self._last_warning = -math.inf
        self._unlogged = 0
        self._outage_logged = False

    def available(self) -> bool:
        return time.monotonic() >= self._skip_until

    def failed(self, operation: str, exc: BaseException) -> None:
        RATE_LIMIT_BACKEND_ERRORS.labels(operation=operation).inc()
        now = time.monotonic()
        self._skip_until = now + self._backoff
        self._unlogged += 1
        if now - self._last_warning >= WARN_EVERY_SECONDS:
            log.warning(
                "%s: Redis failed (%s), %d failure(s) since the last report; %s",
                self._what,
                f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
                self._unlogged,
                self._fallback,
            )
            self._last_warning = now
            self._unlogged = 0
            self._outage_logged = True

    def answered(self) -> None:
        if self._outage_logged:
            self._outage_logged = False
            log.info("%s: Redis answers again", self._what)


class RedisBacked:
    """A worker's store that keeps its state in Redis when there is one (keys under
    ``key_prefix``, calls bounded by ``timeout_seconds``) and in the process otherwise,
    or meanwhile when Redis fails (``guard``: the policy above)."""

    def __init__(
        self, redis: Redis | None, key_prefix: str, timeout_seconds: float, guard: RedisGuard
    ) -> None:
        self._redis = redis
        self._key_prefix = key_prefix
        self._timeout = timeout_seconds
        self._guard = guard

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    def _redis_available(self) -> bool:
        return self._redis is not None and self._guard.available()
