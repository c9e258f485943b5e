"""GraphiQL on ``GET /graphql`` (Accept: text/html), served from this package alone.

The page loads one script and one stylesheet from ``/graphiql/static/`` (this package's
``static/`` folder, built by tools/graphiql/) and nothing from anywhere else: its
Content-Security-Policy allows scripts, workers and connections to this origin only, and
no inline script (its configuration is a JSON data block, which browsers never execute).

In development the page signs the visitor in: it carries a fresh token for each demo
account that exists in the database, and GraphiQL's switcher sends the chosen one with
every request, keeping it in memory (not in the Headers tab, not in localStorage). In
production (GRAPHIQL=true) the page carries no token, whatever the database holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from app.auth.tokens import issue_user_token
from app.config import Settings
from app.db.engine import create_engine, create_sessionmaker
from app.domain.demo import DEMO_USERS
from app.models import User, UserStatus

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/graphiql/static"  # tools/graphiql/vite.config.js builds for this base

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "worker-src 'self'",
        "connect-src 'self'",
        # Monaco and React set styles at run time (style elements and attributes).
        "style-src 'self' 'unsafe-inline'",
        "font-src 'self' data:",
        "img-src 'self' data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

FIRST_QUERY = """\
# Run it with Ctrl-Enter or the button on the right.
{
  viewer {
    email
    workspaces {
      slug
      name
    }
  }
}
"""

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Harmony Gateway · GraphiQL</title>
<link rel="stylesheet" href="{static}/graphiql.css">
<script type="module" src="{static}/graphiql.js"></script>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script type="application/json" id="graphiql-config">{config}</script>
</body>
</html>
"""


def static_mount() -> Mount:
    return Mount(STATIC_PATH, app=StaticFiles(directory=STATIC_DIR), name="graphiql-static")


async def demo_sign_ins(settings: Settings) -> list[dict[str, str]]:
    """A fresh token for each active demo account, in the demo's order; none outside
    development. Accounts are read like ``python -m app token`` reads them, on the owner
    connection (on PostgreSQL the application role sees no account without a tenant
    context)."""
    if settings.app_env != "development":
        return []
    engine = create_engine(settings, settings.owner_database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            found = await session.execute(
                sa.select(User).where(
                    col(User.email).in_(list(DEMO_USERS)),
                    col(User.status) == UserStatus.ACTIVE,
                )
            )
            ids = {user.email: user.id for user in found.scalars()}
    finally:
        await engine.dispose()
    return [
        {"email": email, "token": issue_user_token(settings, user_id)}
        for email in DEMO_USERS
        if (user_id := ids.get(email)) is not None
    ]


def _hint(settings: Settings) -> str:
    header = 'Put {"Authorization": "Bearer <token>"} in the Headers tab'
    if settings.app_env != "development":
        return header + "."
    return (
        f"No demo account to sign in as: run `python -m app seed --demo` (on PostgreSQL, "
        f"with MIGRATION_DATABASE_URL set to the owner role). Meanwhile: {header}."
    )


def render(config: dict[str, Any]) -> str:
    # "<", ">" and "&" escaped: the JSON cannot close its script element.
    data = orjson.dumps(config).decode()
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return _PAGE.format(static=STATIC_PATH, config=data)


async def graphiql_page(request: Request, settings: Settings) -> HTMLResponse:
    users = await demo_sign_ins(settings)
    config = {
        "endpoint": request.url.path,
        "users": users,
        "query": FIRST_QUERY,
        "hint": _hint(settings),
    }
    return HTMLResponse(
        render(config),
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            # The page may carry tokens: never stored, never sent on as a referrer.
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )
