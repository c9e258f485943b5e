"""GraphiQL on ``GET /graphql``: served from the package alone under a strict
Content-Security-Policy, signed in as the demo accounts in development, never carrying a
token in production. (tests/graphiql/test_graphiql_browser.py drives it in Chromium.)"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.domain.demo import DEMO_USERS
from app.graphiql.page import STATIC_DIR, render
from app.main import create_app
from app.models import User, UserStatus

ROOT = Path(__file__).resolve().parents[2]
HTML = {"Accept": "text/html"}
CONFIG = re.compile(r'<script type="application/json" id="graphiql-config">(.*?)</script>', re.S)


@asynccontextmanager
async def _http(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, engine)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            yield http


def _config(page: str) -> dict[str, Any]:
    match = CONFIG.search(page)
    assert match is not None, page
    config: dict[str, Any] = json.loads(match.group(1))
    return config


def _production(settings: Settings, **overrides: Any) -> Settings:
    return settings.model_copy(update={"app_env": "production", **overrides})


async def test_page_loads_only_its_own_assets_under_a_strict_csp(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with _http(settings, engine) as http:
        page = await http.get("/graphql", headers=HTML)
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        csp = dict(
            part.split(" ", 1) for part in page.headers["content-security-policy"].split("; ")
        )
        assert csp["default-src"] == "'none'"
        assert csp["script-src"] == "'self'"  # no inline script, no other origin
        assert csp["connect-src"] == "'self'"
        assert csp["worker-src"] == "'self'"
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "//" not in CONFIG.sub("", page.text)  # no URL of another origin

        linked = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert linked == ["/graphiql/static/graphiql.css", "/graphiql/static/graphiql.js"]
        # Executable scripts: the linked module only (the config block is JSON data).
        scripts = re.findall(r"<script([^>]*)>", page.text)
        assert scripts == [
            ' type="module" src="/graphiql/static/graphiql.js"',
            ' type="application/json" id="graphiql-config"',
        ]
        for path, media_type in zip(linked, ["text/css", "text/javascript"], strict=True):
            asset = await http.get(path)
            assert asset.status_code == 200
            assert asset.headers["content-type"].startswith(media_type)


CDNS = ["esm.sh", "unpkg.com", "jsdelivr.net", "cdnjs.", "googleapis.com", "gstatic.com"]


def test_the_bundle_names_no_cdn() -> None:
    """What Strawberry's page loaded (and a font service) appears nowhere in the built
    files; the stylesheet's fonts are inline. (The browser test blocks every other
    origin and fails on any attempt.)"""
    for path in STATIC_DIR.rglob("*"):
        if path.suffix in {".js", ".css"}:
            text = path.read_text(encoding="utf-8")
            assert [cdn for cdn in CDNS if cdn in text] == [], path
    css = (STATIC_DIR / "graphiql.css").read_text(encoding="utf-8")
    for target in re.findall(r"url\(([^)]*)\)", css):
        assert target.strip("'\"").startswith(("data:", "/graphiql/static/", "#")), target[:60]


async def test_development_page_signs_in_as_each_demo_account(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with _http(settings, engine) as http:
        config = _config((await http.get("/graphql", headers=HTML)).text)
        assert config["endpoint"] == "/graphql"
        assert [u["email"] for u in config["users"]] == list(DEMO_USERS)
        for user in config["users"]:
            answer = await http.post(
                "/graphql",
                json={"query": "{ viewer { email } }"},
                headers={"Authorization": f"Bearer {user['token']}"},
            )
            assert answer.json()["data"] == {"viewer": {"email": user["email"]}}


async def test_a_deactivated_demo_account_is_not_offered(
    settings: Settings, engine: AsyncEngine, session: AsyncSession
) -> None:
    await session.execute(
        update(User).where(User.email == "ben@acme.test").values(status=UserStatus.DEACTIVATED)  # type: ignore[arg-type]
    )
    await session.commit()
    async with _http(settings, engine) as http:
        config = _config((await http.get("/graphql", headers=HTML)).text)
    assert [u["email"] for u in config["users"]] == [e for e in DEMO_USERS if e != "ben@acme.test"]


async def test_production_with_graphiql_on_serves_no_token(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with _http(_production(settings, graphiql=True), engine) as http:
        page = await http.get("/graphql", headers=HTML)
        assert page.status_code == 200
        assert _config(page.text)["users"] == []
        assert "eyJ" not in page.text  # no JWT of any kind
        assert (await http.get("/graphiql/static/graphiql.js")).status_code == 200


async def test_production_serves_no_graphiql_by_default(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with _http(_production(settings), engine) as http:
        page = await http.get("/graphql", headers=HTML)
        # The API's own refusal (401, or 406 where Accept names no JSON type): no page.
        assert page.status_code in {401, 406}
        assert page.headers["content-type"].startswith("application/")
        assert "graphiql" not in page.text.lower()
        assert "eyJ" not in page.text
        assert (await http.get("/graphiql/static/graphiql.js")).status_code == 404


def test_the_configuration_cannot_close_its_script_element() -> None:
    page = render({"query": "</script><script>alert(1)</script> & <!--"})
    config = CONFIG.search(page)
    assert config is not None
    assert "<" not in config.group(1) and "&" not in config.group(1)
    assert json.loads(config.group(1)) == {"query": "</script><script>alert(1)</script> & <!--"}


def test_the_assets_ship_in_the_package_with_their_licences() -> None:
    """Every built file is package data (a wheel carries it), LICENSES.txt among them,
    and names the pinned GraphiQL and explorer versions."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["app"]
    files = [p.relative_to(ROOT / "app").as_posix() for p in STATIC_DIR.rglob("*") if p.is_file()]
    assert files
    unpackaged = [f for f in files if not any(fnmatch.fnmatch(f, p) for p in patterns)]
    assert unpackaged == []
    lock = json.loads((ROOT / "tools/graphiql/package-lock.json").read_text())
    licences = (STATIC_DIR / "LICENSES.txt").read_text()
    for name in ["graphiql", "@graphiql/plugin-explorer", "react", "react-dom", "monaco-editor"]:
        version = lock["packages"][f"node_modules/{name}"]["version"]
        assert f"\n{name}@{version} (MIT)\n" in licences
