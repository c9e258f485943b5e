"""python -m app serve|migrate|seed --demo|token EMAIL…|workspace create|delete …|export-schema|persisted-manifest"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TextIO, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings, get_settings

if TYPE_CHECKING:
    from app.domain.workspaces.deletion import DeletionPlan

T = TypeVar("T")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"harmony-gateway {version('harmony-gateway')}"
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "harmony-gateway (not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", description="Harmony Gateway")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the GraphQL API with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=None, help="default: WEB_WORKERS (1)")

    sub.add_parser("migrate", help="upgrade the database schema to the latest revision")

    seed = sub.add_parser("seed", help="load data")
    seed.add_argument(
        "--demo", action="store_true", required=True, help="the demo workspaces (idempotent)"
    )

    token = sub.add_parser(
        "token",
        help="print a bearer token for a user (dev issuer); with several emails, one "
        "'email token' line each",
    )
    token.add_argument("email", nargs="+")

    account = sub.add_parser("account", help="operator commands on accounts")
    account_sub = account.add_subparsers(dest="account_command", required=True)
    account_create = account_sub.add_parser(
        "create",
        help="create an account (sign-up happens outside the gateway; invitations wait for it)",
    )
    account_create.add_argument("email")
    account_create.add_argument(
        "--name", default=None, help="display name (default: the address's local part)"
    )

    sign_out = sub.add_parser(
        "sign-out", help="refuse every user token of an account issued until now"
    )
    sign_out.add_argument("email")

    workspace = sub.add_parser("workspace", help="operator commands on workspaces")
    ws_sub = workspace.add_subparsers(dest="workspace_command", required=True)
    create = ws_sub.add_parser("create", help="create a workspace with its first Admin")
    create.add_argument("--slug", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--admin", required=True, metavar="EMAIL")
    delete = ws_sub.add_parser(
        "delete",
        help="delete a workspace and every row of it (docs/operations.md)",
        description="Cancel the workspace's subscription, then delete every row of the "
        "workspace in one transaction, and keep a record of it in the operator log. "
        "Prints what goes first; asks to type the slug back unless --yes.",
    )
    delete.add_argument("--slug", required=True, help="the workspace to delete")
    delete.add_argument(
        "--dry-run", action="store_true", help="print what would be deleted and change nothing"
    )
    delete.add_argument(
        "--yes",
        action="store_true",
        help="no confirmation prompt (scripts; stdin need not be a TTY)",
    )
    delete.add_argument(
        "--operator", metavar="NAME", help="who is deleting it (default: the login name, $USER)"
    )
    delete.add_argument(
        "--reason", help="why: a support ticket reference (required unless --dry-run)"
    )

    sub.add_parser(
        "webhooks",
        help="run the webhook delivery worker until SIGINT/SIGTERM (with WEBHOOKS_IN_PROCESS=false)",
    )

    sub.add_parser("export-schema", help="print the GraphQL SDL")

    manifest = sub.add_parser(
        "persisted-manifest",
        help="write app/edge/trusted_documents.json from operations/spa/*.graphql",
    )
    manifest.add_argument(
        "--check", action="store_true", help="only check that the committed manifest is current"
    )
    return parser


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


async def _in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run operator work in one transaction on the owner connection."""
    from app.db.engine import create_engine, create_sessionmaker
    from app.db.migrations import ensure_current

    engine = create_engine(settings, settings.owner_database_url)
    try:
        await ensure_current(engine)
        async with create_sessionmaker(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


def cmd_migrate(settings: Settings) -> int:
    """Safe to run from every replica at once: on PostgreSQL the runs serialize on an
    advisory lock and all but the first find nothing to do (app/db/migrations.py)."""
    from app.db.engine import create_engine
    from app.db.migrations import current_revision, upgrade

    async def run() -> tuple[str | None, str | None]:
        engine = create_engine(settings, settings.owner_database_url)
        try:
            before = await upgrade(engine)
            return before, await current_revision(engine)
        finally:
            await engine.dispose()

    before, after = asyncio.run(run())
    if before == after:
        print(f"database already at revision {after} (head): nothing to do")
    else:
        print(f"database upgraded from revision {before or '(empty)'} to {after} (head)")
    return 0


def cmd_seed(settings: Settings) -> int:
    from app.domain.demo import seed_demo

    created = asyncio.run(_in_transaction(settings, seed_demo))
    print(f"demo data: created {', '.join(created)}" if created else "demo data: already present")
    return 0


def cmd_token(settings: Settings, emails: list[str]) -> int:
    """One email: a line saying whose token it is, then the token (scripts take the last
    line). Several (scripts/dev's banner): one ``email token`` line each, in one process."""
    from app.auth.tokens import issue_user_token
    from app.domain.users.repository import user_by_email
    from app.models import User, UserStatus

    async def find(session: AsyncSession) -> list[User | None]:
        return [await user_by_email(session, email) for email in emails]

    users = asyncio.run(_in_transaction(settings, find))
    for email, user in zip(emails, users, strict=True):
        if user is None or user.id is None:
            return _fail(f"no account with email {email}")
        if user.status != UserStatus.ACTIVE:
            return _fail(f"the account {email} is deactivated")
    hours = settings.jwt_ttl_seconds // 3600
    for user in users:
        assert user is not None and user.id is not None
        if len(emails) == 1:
            print(f"token for {user.email} (user {user.id}), valid {hours} h:")
            print(issue_user_token(settings, user.id))
        else:
            print(f"  {user.email:<16} {issue_user_token(settings, user.id)}")
    return 0


def cmd_account_create(settings: Settings, email: str, name: str | None) -> int:
    from app.domain.users.repository import user_by_email
    from app.domain.users.service import InvalidEmailError, get_or_create_user

    async def create(session: AsyncSession) -> str:
        existing = await user_by_email(session, email)
        if existing is not None:
            return f"account {existing.email} exists (user {existing.id})"
        user = await get_or_create_user(session, email, name.strip() if name else None)
        return f"created account {user.email} (user {user.id})"

    if name is not None and not 0 < len(name.strip()) <= 200:
        return _fail("--name must be 1 to 200 characters")
    try:
        print(asyncio.run(_in_transaction(settings, create)))
    except InvalidEmailError as exc:
        return _fail(str(exc))
    return 0


def cmd_sign_out(settings: Settings, email: str) -> int:
    from app.domain.users.repository import user_by_email
    from app.domain.users.service import sign_out_everywhere

    async def sign_out(session: AsyncSession) -> str | None:
        user = await user_by_email(session, email)
        if user is None or user.id is None:
            return None
        at = await sign_out_everywhere(session, user.id)
        return f"signed out {user.email} (user {user.id}) everywhere: tokens issued until {at:%Y-%m-%dT%H:%M:%S.%fZ} are refused"

    done = asyncio.run(_in_transaction(settings, sign_out))
    if done is None:
        return _fail(f"no account with email {email}")
    print(done)
    return 0


def cmd_workspace_create(settings: Settings, slug: str, name: str, admin: str) -> int:
    from app.domain.users.service import InvalidEmailError
    from app.domain.workspaces.service import WorkspaceCreationError, create_workspace

    async def create(session: AsyncSession) -> str:
        workspace, _, _ = await create_workspace(session, slug=slug, name=name, admin_email=admin)
        return f"created workspace {workspace.slug} (id {workspace.id}) with Admin {admin}"

    try:
        print(asyncio.run(_in_transaction(settings, create)))
    except (WorkspaceCreationError, InvalidEmailError) as exc:
        return _fail(str(exc))
    return 0


def _login_name() -> str | None:
    try:
        return getpass.getuser()  # $LOGNAME, $USER, …, then the password database
    except (KeyError, OSError):  # a uid with no name (a container's)
        return None


def _print_plan(plan: DeletionPlan) -> None:
    print(
        f"workspace {plan.slug} ({plan.name}, id {plan.workspace_id}), "
        f"created {plan.created_at:%Y-%m-%d %H:%M:%S}Z"
    )
    billing = plan.subscription
    if billing is None:
        print("subscription: none")
    else:
        state = f"{billing.plan}, {billing.status}, {billing.seats} seats"
        if billing.canceled_at is not None:
            state += f", canceled {billing.canceled_at:%Y-%m-%d %H:%M:%S}Z"
        else:
            state += " (canceled first)"
        print(f"subscription: {state}")
    print(f"members ({len(plan.members)}):")
    width = max((len(m.email) for m in plan.members), default=0)
    for m in plan.members:
        print(f"  {m.email:<{width}}  {m.status.value:<11}  {m.role}")
    print(f"API keys ({len(plan.api_keys)}):")
    for k in plan.api_keys:
        used = f"last used {k.last_used_at:%Y-%m-%d}" if k.last_used_at else "never used"
        print(f"  {k.name}  hmy_{k.prefix}_…  {'revoked' if k.revoked else 'active'}, {used}")
    print(f"rows ({plan.total_rows} in all):")
    for table, n in plan.rows.items():
        print(f"  {table:<28}{n:>8}")


def cmd_workspace_delete(
    settings: Settings,
    slug: str,
    operator: str | None,
    reason: str | None,
    *,
    dry_run: bool = False,
    yes: bool = False,
    stdin: TextIO | None = None,
) -> int:
    """Print the plan; unless a dry run: confirm, cancel billing (committed), then delete
    every row in one transaction with its operator record (app/domain/workspaces/deletion.py)."""
    from app.domain.workspaces import deletion

    stdin = stdin or sys.stdin
    if not (dry_run or yes or stdin.isatty()):
        return _fail(
            "stdin is not a terminal, so nobody can confirm: nothing was deleted "
            "(pass --yes to delete without the prompt, or --dry-run)"
        )
    try:
        who = None if dry_run else deletion.Operator.of(operator, reason)
        plan = asyncio.run(_in_transaction(settings, lambda s: deletion.plan_deletion(s, slug)))
    except (deletion.OperatorInputError, deletion.WorkspaceNotFoundError) as exc:
        return _fail(str(exc))
    _print_plan(plan)
    if who is None:
        print("dry run: nothing was changed")
        return 0
    if not yes:
        print(
            f"Type the slug ({plan.slug}) to delete this workspace for good: ", end="", flush=True
        )
        if stdin.readline().strip() != plan.slug:
            return _fail("the confirmation did not match the slug: nothing was deleted")
    try:
        canceled = asyncio.run(
            _in_transaction(settings, lambda s: deletion.cancel_before_deletion(s, slug, who))
        )
        if canceled is not None:
            print(f"subscription canceled ({canceled.plan}, {canceled.seats} seats)")
        done = asyncio.run(
            _in_transaction(settings, lambda s: deletion.delete_workspace(s, slug, who))
        )
    except deletion.WorkspaceNotFoundError as exc:
        return _fail(str(exc))
    print(
        f"deleted workspace {done.slug} (id {done.workspace_id}): {done.total_rows} rows; "
        f"operator record {done.record_id}"
    )
    return 0


def cmd_export_schema() -> int:
    from app.graphql.schema import sdl

    sys.stdout.write(sdl())
    return 0


def cmd_persisted_manifest(check: bool) -> int:
    from app.edge.manifest import ManifestError, check_manifest, write_manifest
    from app.edge.persisted import MANIFEST_PATH

    try:
        if check:
            print(f"{MANIFEST_PATH} is current ({check_manifest()} operations)")
        else:
            print(f"wrote {write_manifest()} trusted operations to {MANIFEST_PATH}")
    except (ManifestError, OSError) as exc:
        return _fail(str(exc))
    return 0


def cmd_serve(settings: Settings, host: str, port: int, workers: int | None) -> int:
    import uvicorn

    from app.db.engine import create_engine
    from app.db.migrations import ensure_current

    async def check() -> list[str]:
        engine = create_engine(settings)
        try:
            await ensure_current(engine)
            if settings.is_sqlite:
                return []
            from app.db.tenant import context_key_matches, role_posture
            from app.models import TENANT_TABLES

            async with engine.connect() as conn:
                if not await context_key_matches(conn):
                    raise RuntimeError(
                        "the database does not verify this gateway's tenant context: its key "
                        "derives from JWT_SECRET, and `python -m app migrate` installs it; run "
                        "that with the gateway's JWT_SECRET (docs/authorization.md)"
                    )
                return (await role_posture(conn, TENANT_TABLES)).problems
        finally:
            await engine.dispose()

    problems = asyncio.run(check())
    if problems:
        # Row-level security does not bind this role: tenant isolation would rest on
        # the GraphQL layer alone.
        message = (
            "DATABASE_URL connects as a role that row-level security does not bind ("
            + "; ".join(problems)
            + "): use the application role (see docs/authorization.md)"
        )
        if settings.app_env == "production":
            return _fail(message)
        logging.getLogger("app").warning("%s", message)
    workers = workers or settings.web_workers
    shared_metrics = None
    if settings.prometheus_multiproc_dir:  # (from .env too: prometheus-client reads os.environ)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = settings.prometheus_multiproc_dir
    elif workers > 1:
        # The workers' metrics meet in a directory of their own (app.observability.metrics).
        shared_metrics = tempfile.mkdtemp(prefix="harmony-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = shared_metrics
    try:
        uvicorn.run(
            "app.main:serve_app",  # configures each worker's logging (app.observability.logs)
            factory=True,
            host=host,
            port=port,
            workers=workers,
            loop="uvloop",
            http="app.edge.wire:OneWriteProtocol",  # httptools, one write per response
            log_config=None,  # uvicorn's loggers go through ours
            log_level=settings.log_level.lower(),
            access_log=False,  # the gateway writes its own access line per GraphQL request
            proxy_headers=True,
            server_header=False,  # no "server: uvicorn": the gateway does not name its server
        )
    finally:
        if shared_metrics is not None:
            shutil.rmtree(shared_metrics, ignore_errors=True)
    return 0


def cmd_webhooks(settings: Settings) -> int:
    """Deliver webhooks until SIGINT or SIGTERM; attempts under way finish first."""
    import signal

    from app.db.engine import create_engine
    from app.db.migrations import ensure_current
    from app.webhooks.worker import DeliveryWorker

    async def run() -> None:
        engine = create_engine(settings)
        worker = DeliveryWorker(engine, settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            await ensure_current(engine)
            logging.getLogger("app.webhooks").info("webhook delivery worker started")
            await worker.run(stop)
        finally:
            await worker.close()
            await engine.dispose()
        logging.getLogger("app.webhooks").info("webhook delivery worker stopped")

    asyncio.run(run())
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "export-schema":
        return cmd_export_schema()
    if args.command == "persisted-manifest":
        return cmd_persisted_manifest(args.check)
    from pydantic import ValidationError

    from app.db.migrations import SchemaNotCurrentError

    try:
        settings = get_settings()
    except ValidationError as exc:
        return _fail("; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()))
    from app.observability.logs import configure_logging

    configure_logging(settings)
    if args.command != "migrate":
        logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        if args.command == "serve":
            return cmd_serve(settings, args.host, args.port, args.workers)
        if args.command == "migrate":
            return cmd_migrate(settings)
        if args.command == "seed":
            return cmd_seed(settings)
        if args.command == "webhooks":
            return cmd_webhooks(settings)
        if args.command == "token":
            return cmd_token(settings, args.email)  # a list: nargs="+"
        if args.command == "account":
            return cmd_account_create(settings, args.email, args.name)
        if args.command == "sign-out":
            return cmd_sign_out(settings, args.email)
        if args.command == "workspace" and args.workspace_command == "delete":
            operator = args.operator if args.operator is not None else _login_name()
            return cmd_workspace_delete(
                settings, args.slug, operator, args.reason, dry_run=args.dry_run, yes=args.yes
            )
        if args.command == "workspace":
            return cmd_workspace_create(settings, args.slug, args.name, args.admin)
    except (SchemaNotCurrentError, RuntimeError) as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(
            f"cannot reach the database ({exc.__class__.__name__}: {exc}); check DATABASE_URL"
        )
    return _fail(f"unknown command {args.command}")
