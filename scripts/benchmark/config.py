"""Where the benchmark's databases live and who connects to them.

Everything is read from the environment once, here (``scripts/bench`` documents the
variables). Two roles matter:

- the *owner* (``BENCH_PG_OWNER_URL``, default the ``postgres`` superuser): creates the
  database, runs the migrations (``MIGRATION_DATABASE_URL``), loads the data, and is what
  the floor connects as;
- the *application role* the gateway connects as (``DATABASE_URL``). When a migration
  creates a non-owner application role (``CREATE ROLE`` in app/migrations/versions), the
  gateway uses it, so row-level security stays on while measuring. ``BENCH_APP_ROLE``
  overrides the detection (``owner`` forces the owner).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "app" / "migrations" / "versions"
RESULTS = ROOT / "bench-results"
# Runs kept in the repository (scripts/bench --record): the ones docs cite.
RECORDED = ROOT / "docs" / "benchmarks"

# HS256 secret of the gateway under test and of the floor (production needs >= 32 chars).
JWT_SECRET = "harmony-bench-secret-" + "b" * 32
WORKERS = 2

# "Every edge feature switched on": the normal benchmark shares its rate-limit buckets
# through Redis, with a budget so large that the benchmark's tokens are never refused
# while the limiter still runs (and writes to Redis) on every request. The adversarial
# run (scripts/bench --adversarial) uses the production budget instead.
BENCH_RATE_LIMIT = (1_000_000_000, 1_000_000_000)  # RATE_LIMIT_POINTS, ..._RESTORE_PER_SECOND
PRODUCTION_RATE_LIMIT = (1_000, 50)
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# Keys of this run only: two runs (or a run and a developer's gateway) never share buckets.
REDIS_KEY_PREFIX = f"harmony-bench:{os.getpid()}:"
# Edge settings taken from the caller's environment (they win over the bench's own).
EDGE_ENV_PREFIXES = ("MAX_", "RATE_LIMIT_", "REQUEST_TIMEOUT", "INTROSPECTION", "PERSISTED_")


def redis_url() -> str | None:
    """Redis for the gateway: BENCH_REDIS_URL (``off`` or empty: none, in-process state)."""
    value = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL).strip()
    return None if value.lower() in {"", "off", "none"} else value


_CREATE_ROLE = re.compile(r"CREATE\s+ROLE\b", re.IGNORECASE)
_LITERAL_ROLE = re.compile(r"CREATE\s+ROLE\s+\"?([a-z_][a-z0-9_]*)\b", re.IGNORECASE)


def detect_app_role() -> str | None:
    """The non-owner application role the migrations create, if any: the literal name
    after CREATE ROLE, or else (a name the migration interpolates) the app's
    ``db_app_role`` setting (env DB_APP_ROLE)."""
    texts = [path.read_text() for path in sorted(MIGRATIONS.glob("*.py"))]
    if not any(_CREATE_ROLE.search(text) for text in texts):
        return None
    if os.environ.get("DB_APP_ROLE"):
        return os.environ["DB_APP_ROLE"]
    from app.config import Settings

    field = Settings.model_fields.get("db_app_role")
    if field is not None and isinstance(field.default, str):
        return field.default
    for text in texts:
        match = _LITERAL_ROLE.search(text)
        if match:
            return match.group(1).lower()
    return None


@dataclass(frozen=True)
class BenchConfig:
    scale: int
    owner_url: str  # postgresql://user@host:port (no database)
    app_role: str | None  # None: the gateway connects as the owner

    @property
    def database(self) -> str:
        return f"harmony_bench_s{self.scale}"

    def _url(self, database: str, user: str | None = None, driver: str = "postgresql") -> str:
        url = make_url(self.owner_url).set(drivername=driver, database=database)
        if user is not None:
            url = url.set(username=user, password=None)
        return url.render_as_string(hide_password=False)

    def owner_dsn(self, database: str | None = None) -> str:
        """asyncpg DSN of the owner on ``database`` (default: the bench database)."""
        return self._url(database or self.database)

    @property
    def host(self) -> str:
        return make_url(self.owner_url).host or "127.0.0.1"

    @property
    def port(self) -> int:
        return make_url(self.owner_url).port or 5432

    @property
    def maintenance_dsn(self) -> str:
        return self._url(make_url(self.owner_url).database or "postgres")

    @property
    def owner_sa_url(self) -> str:
        return self._url(self.database, driver="postgresql+asyncpg")

    @property
    def app_sa_url(self) -> str:
        """The gateway's DATABASE_URL (the application role, or the owner)."""
        return self._url(self.database, user=self.app_role, driver="postgresql+asyncpg")

    def gateway_env(self, rate_limit: tuple[int, float] = BENCH_RATE_LIMIT) -> dict[str, str]:
        """Production settings of the gateway under test, every edge feature on: Redis
        (unless BENCH_REDIS_URL=off) and the rate limiter with the budget ``rate_limit``
        (points, restored per second); MAX_QUERY_COST and the static limits stay at their
        production defaults unless the environment sets them."""
        points, restore = rate_limit
        env = {
            "APP_ENV": "production",
            "JWT_SECRET": JWT_SECRET,
            "DATABASE_URL": self.app_sa_url,
            "MIGRATION_DATABASE_URL": self.owner_sa_url,
            "WEB_WORKERS": str(WORKERS),
            "RATE_LIMIT_POINTS": str(points),
            "RATE_LIMIT_RESTORE_PER_SECOND": str(
                int(restore) if restore == int(restore) else restore
            ),
        }
        redis = redis_url()
        if redis is not None:
            env["REDIS_URL"] = redis
            env["REDIS_KEY_PREFIX"] = REDIS_KEY_PREFIX
        # Let pool/timeouts and the edge's limits be tuned from the outside without
        # touching the bench.
        for key, value in os.environ.items():
            if key.startswith(("DB_", *EDGE_ENV_PREFIXES)) or key in {
                "JWT_ISSUER",
                "JWT_TTL_SECONDS",
                "LOG_LEVEL",
            }:
                env[key] = value
        return env


def load_config(scale: int) -> BenchConfig:
    owner = os.environ.get("BENCH_PG_OWNER_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    choice = os.environ.get("BENCH_APP_ROLE", "auto").strip()
    if choice == "auto":
        role = detect_app_role()
    elif choice in {"", "owner"}:
        role = None
    else:
        role = choice
    return BenchConfig(scale=scale, owner_url=owner, app_role=role)
