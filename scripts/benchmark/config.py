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

# HS256 secret of the gateway under test and of the floor (production needs >= 32 chars).
JWT_SECRET = "harmony-bench-secret-" + "b" * 32
WORKERS = 2

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
    def maintenance_dsn(self) -> str:
        return self._url(make_url(self.owner_url).database or "postgres")

    @property
    def owner_sa_url(self) -> str:
        return self._url(self.database, driver="postgresql+asyncpg")

    @property
    def app_sa_url(self) -> str:
        """The gateway's DATABASE_URL (the application role, or the owner)."""
        return self._url(self.database, user=self.app_role, driver="postgresql+asyncpg")

    def gateway_env(self) -> dict[str, str]:
        """Production settings of the gateway under test."""
        env = {
            "APP_ENV": "production",
            "JWT_SECRET": JWT_SECRET,
            "DATABASE_URL": self.app_sa_url,
            "MIGRATION_DATABASE_URL": self.owner_sa_url,
            "WEB_WORKERS": str(WORKERS),
        }
        # Let pool/timeouts be tuned from the outside without touching the bench.
        for key, value in os.environ.items():
            if key.startswith("DB_") or key in {"JWT_ISSUER", "JWT_TTL_SECONDS", "LOG_LEVEL"}:
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
