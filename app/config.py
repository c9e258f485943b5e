"""Settings: the only place the app reads the environment (prometheus-client reads
``PROMETHEUS_MULTIPROC_DIR`` itself, and the OpenTelemetry SDK its other ``OTEL_*``
variables: see docs/observability.md)."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./harmony.db"
# Only ever accepted when APP_ENV=development; production refuses to start with it.
DEVELOPMENT_JWT_SECRET = "harmony-development-secret-do-not-use-in-production"  # noqa: S105


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    app_env: Literal["development", "production"] = "development"
    database_url: str = DEFAULT_DATABASE_URL
    # Migrations and operator commands may need an owner role distinct from the
    # application's (row-level security applies to the application role only).
    migration_database_url: str | None = None
    # PostgreSQL only: the role the application connects as (DATABASE_URL's user).
    # Migration 0002 creates it (NOSUPERUSER NOBYPASSRLS, no password) when absent and
    # grants it table privileges; row-level security restricts it to the request's
    # workspaces. Production gives it a password (ALTER ROLE … PASSWORD) out of band.
    db_app_role: str = Field(default="harmony_app", pattern=r"^[a-z_][a-z0-9_]{0,62}$")

    jwt_secret: str | None = None
    # Key material of global IDs and cursors (app/auth/keys.py). Unset (or blank): they
    # derive from JWT_SECRET, so rotating it changes every ID clients may have stored; set
    # it to keep IDs stable across token-secret rotations. Changing it changes every ID.
    id_secret: str | None = None
    jwt_issuer: str = "harmony-dev"
    # User tokens name this audience (`aud`) and tokens for any other audience are refused.
    jwt_audience: str = "harmony-gateway"
    jwt_ttl_seconds: int = Field(default=12 * 3600, gt=0)

    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Log lines as JSON objects or readable console lines; default: JSON in production.
    log_format: Literal["json", "console"] | None = None
    # Tracing (OTLP over HTTP) is on when set, e.g. http://collector:4318.
    otel_exporter_otlp_endpoint: str | None = None
    otel_service_name: str = "harmony-gateway"
    # Where the worker processes of `serve` share their metrics (prometheus-client's own
    # variable); with WEB_WORKERS > 1 and unset, `serve` makes a temporary one.
    prometheus_multiproc_dir: str | None = None

    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=0, ge=0)
    db_pool_timeout_seconds: float = Field(default=10.0, gt=0)
    db_statement_timeout_ms: int = Field(default=10_000, ge=0)
    db_connect_timeout_seconds: float = Field(default=5.0, gt=0)

    web_workers: int = Field(default=1, ge=1)
    # GraphQL requests executing at once per worker; more wait their turn (FIFO) instead of
    # all slowing down together. 0 = no cap. A worker runs one request's Python at a time:
    # beyond a few in flight, more only add database backends competing for the same CPUs
    # (docs/performance.md, "Twelfth session").
    max_in_flight: int = Field(default=4, ge=0)
    graphiql: bool | None = None  # default: on in development, off in production
    # Off: GraphQL runs on stock graphql-core/Strawberry execution (no object plans, no
    # plain-leaf path, no kept introspection answer), for debugging a suspected difference.
    fast_paths: bool = True

    # ---- The edge (docs/limits.md): every limit has a production default.
    # Shared state (rate-limit buckets, persisted queries, idempotency keys); absent = in
    # process.
    redis_url: str | None = None
    redis_key_prefix: str = "harmony:"
    # A Redis call slower than this counts as a failure (the documented fallback applies).
    redis_timeout_seconds: float = Field(default=0.25, gt=0, le=5)
    max_body_bytes: int = Field(default=1_000_000, ge=1_000)
    max_tokens: int = Field(default=2_000, ge=100)
    max_depth: int = Field(default=12, ge=2)
    max_aliases: int = Field(default=30, ge=0)
    max_fields: int = Field(default=300, ge=10)
    max_root_fields: int = Field(default=10, ge=1)
    max_directives: int = Field(default=5, ge=1)  # per location (field, fragment, operation)
    max_fragments: int = Field(default=30, ge=0)
    max_list_length: int = Field(default=100, ge=1)  # list inputs: literals and variables
    max_query_cost: int = Field(default=1_000, ge=1)
    rate_limit_points: int = Field(default=1_000, ge=1)
    rate_limit_restore_per_second: float = Field(default=50.0, gt=0)
    # Requests waiting for a MAX_IN_FLIGHT slot per worker; beyond: 503 at once.
    max_queued: int = Field(default=100, ge=0)
    request_timeout_seconds: float = Field(default=10.0, gt=0)
    introspection: Literal["off", "authenticated", "on"] = "authenticated"
    persisted_only_for_users: bool = False
    # How long a mutation's answer is replayed to a retry with the same Idempotency-Key.
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=1)
    # Parsed documents and in-process persisted queries, each bounded in (estimated) bytes.
    document_cache_bytes: int = Field(default=32 * 2**20, ge=0)
    persisted_cache_bytes: int = Field(default=8 * 2**20, ge=0)

    # ---- Webhooks (docs/partners.md#webhooks, docs/scaling.md#webhook-deliveries)
    # Deliver from inside each gateway process; false when `python -m app webhooks` runs
    # as its own process (any number of either may run: claims never overlap).
    webhooks_in_process: bool = True
    # How often an idle worker looks for due deliveries.
    webhooks_poll_seconds: float = Field(default=2.0, gt=0, le=60)
    # An attempt without a complete answer within this is a failure (retried).
    webhooks_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    # Attempts per delivery before it is FAILED (about 10 hours with the default).
    webhooks_max_attempts: int = Field(default=8, ge=1, le=20)

    @model_validator(mode="before")
    @classmethod
    def _split_origins(cls, data: object) -> object:
        if isinstance(data, dict):
            raw = data.get("cors_origins")
            if isinstance(raw, str):
                data["cors_origins"] = [o.strip() for o in raw.split(",") if o.strip()]
        return data

    @model_validator(mode="after")
    def _secret_policy(self) -> Settings:
        if self.jwt_secret is None:
            if self.app_env == "production":
                raise ValueError("JWT_SECRET must be set when APP_ENV=production")
            self.jwt_secret = DEVELOPMENT_JWT_SECRET
        elif self.app_env == "production" and (
            self.jwt_secret == DEVELOPMENT_JWT_SECRET or len(self.jwt_secret) < 32
        ):
            raise ValueError("JWT_SECRET must be at least 32 characters in production")
        if not self.id_secret:
            self.id_secret = None
        elif self.app_env == "production" and (
            self.id_secret == DEVELOPMENT_JWT_SECRET or len(self.id_secret) < 32
        ):
            raise ValueError("ID_SECRET must be at least 32 characters in production")
        return self

    @model_validator(mode="after")
    def _budget_fits_an_operation(self) -> Settings:
        if self.max_query_cost > self.rate_limit_points:
            raise ValueError(
                "MAX_QUERY_COST must not exceed RATE_LIMIT_POINTS: an operation the cost "
                "limit admits must fit in a full bucket"
            )
        return self

    @property
    def secret(self) -> str:
        assert self.jwt_secret is not None  # set by the validator
        return self.jwt_secret

    @property
    def logs_as_json(self) -> bool:
        return (
            self.app_env == "production" if self.log_format is None else self.log_format == "json"
        )

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def graphiql_enabled(self) -> bool:
        return self.app_env == "development" if self.graphiql is None else self.graphiql

    @property
    def suggestions_enabled(self) -> bool:
        """ "Did you mean …?" in validation messages: development only (they map the schema)."""
        return self.app_env == "development"

    @property
    def owner_database_url(self) -> str:
        return self.migration_database_url or self.database_url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
