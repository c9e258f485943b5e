"""GraphiQL in a real browser: Chromium (Debian's ``chromium``, driven by Playwright)
loads the page from a live ``python -m app serve`` with every request to another host
refused, runs a query as a demo user and reads the Docs pane. Screenshots are kept in
``test-artifacts/graphiql/`` (``TEST_ARTIFACTS`` to move them).

The page is the same whatever the engine, but it reads the demo accounts on the owner
connection (as ``python -m app token`` does), which only PostgreSQL keeps apart from the
application role's: so it runs on PostgreSQL only.

Without Chromium or the ``playwright`` package the test is skipped, saying which is
missing; under ``CI=true`` that is a failure (.ci/run installs Chromium)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from tests.edge.live import gateway_process

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", ROOT / "test-artifacts")) / "graphiql"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ORIGIN = "http://127.0.0.1:"


def _missing() -> str | None:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture
def browser_available() -> None:
    reason = _missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: the browser test cannot run: {reason}")
        pytest.skip(reason)


@pytest.mark.slow
@pytest.mark.postgres_only
async def test_graphiql_runs_a_query_as_a_demo_user_and_shows_the_docs(
    browser_available: None, settings: Settings, backend: str, tmp_path: Path
) -> None:
    from playwright.async_api import Request, Route, async_playwright, expect

    shots = ARTIFACTS / backend
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    elsewhere: list[str] = []
    console: list[str] = []

    async def only_this_machine(route: Route, request: Request) -> None:
        if request.url.startswith(ORIGIN):
            await route.continue_()
        else:
            elsewhere.append(request.url)
            await route.abort()

    # The page reads the demo accounts on the owner connection, as `python -m app token`.
    owner = {"MIGRATION_DATABASE_URL": settings.owner_database_url}
    with gateway_process(settings, owner, tmp_path / "gateway.log") as url:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                context = await browser.new_context(viewport={"width": 1400, "height": 900})
                await context.route("**/*", only_this_machine)
                page = await context.new_page()
                page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
                page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))

                await page.goto(f"{url}/graphql")
                switcher = page.get_by_label("Demo user")
                await expect(switcher).to_have_value("ada@acme.test")
                # The editors (Monaco, lazily loaded with its workers) show the first query.
                editor = page.locator(".graphiql-query-editor .view-lines")
                await expect(editor).to_contain_text("viewer", timeout=30_000)
                run = page.get_by_role("button", name="Execute query")
                await page.screenshot(path=shots / "1-loaded.png")

                # Cy is in both demo workspaces: the answer names them.
                await switcher.select_option("cy@acme.test")
                async with page.expect_response(_graphql_answer) as answer:
                    await run.click()
                body: dict[str, Any] = await (await answer.value).json()
                assert body["data"] == {
                    "viewer": {
                        "email": "cy@acme.test",
                        "workspaces": [
                            {"slug": "acme", "name": "Acme Corp"},
                            {"slug": "globex", "name": "Globex"},
                        ],
                    }
                }
                result = page.locator(".result-window")
                await expect(result).to_contain_text('"cy@acme.test"')
                await expect(result).to_contain_text('"Globex"')
                await page.screenshot(path=shots / "2-query.png")

                await page.get_by_role("button", name="Show Documentation Explorer").click()
                docs = page.locator(".graphiql-doc-explorer")
                await docs.get_by_role("link", name="Query", exact=True).first.click()
                for field in ["viewer", "workspaces", "workspace", "node", "rateLimit"]:
                    await expect(docs.get_by_role("link", name=field, exact=True)).to_be_visible()
                await page.screenshot(path=shots / "3-docs.png")

                await page.get_by_role("button", name="Show GraphiQL Explorer").click()
                explorer = page.locator(".graphiql-explorer-root")
                await expect(explorer).to_contain_text("rateLimit")
                await page.screenshot(path=shots / "4-explorer.png")

                stored = await page.evaluate("JSON.stringify(window.localStorage)")
            finally:
                await browser.close()

    assert elsewhere == [], "the page tried to load from another host"
    assert "eyJ" not in stored, "a token was written to localStorage"
    assert [line for line in console if "Content Security Policy" in line] == []
    assert [line for line in console if line.startswith(("error", "pageerror"))] == []
    assert json.loads(stored)  # GraphiQL's own state (tabs, panes) is kept, without tokens


def _graphql_answer(response: Any) -> bool:
    request = response.request
    return bool(
        request.method == "POST"
        and response.url.endswith("/graphql")
        and "viewer" in (request.post_data or "")
        and "__schema" not in (request.post_data or "")
    )
