"""The graphql-http package's server audit (GraphQL-over-HTTP conformance), pinned in
tools/http-audit, against a real gateway process: every audit passes, not one warning.

The audit checks the protocol (status codes, media types, request shapes), which the
engine has no part in: it runs on SQLite only (tests/edge/http/ checks the edge's
answers on both engines).

Needs Node.js and the audit installed (``npm ci`` in tools/http-audit, which .ci/run
does); without them the test is skipped, except under CI=true, where it fails."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.tokens import issue_user_token
from app.config import Settings
from tests import factories as f
from tests.edge.live import ROOT, gateway_process

AUDIT = ROOT / "tools" / "http-audit"
IN_CI = os.environ.get("CI") == "true"


@pytest.fixture
def node() -> str:
    """The node executable; skips (fails under CI=true) when node or the audit is missing."""
    node = shutil.which("node")
    if node is None:
        missing = "Node.js is not installed"
    elif not (AUDIT / "node_modules" / "graphql-http" / "package.json").is_file():
        missing = f"the audit is not installed: run `npm ci` in {AUDIT.relative_to(ROOT)}"
    else:
        return node
    if IN_CI:
        pytest.fail(f"CI=true but {missing}")
    pytest.skip(missing)


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[str]:
    with gateway_process(settings, {}, tmp_path / "gateway.log") as url:
        yield url


@pytest.mark.slow
@pytest.mark.sqlite_only
async def test_the_graphql_over_http_audit_passes_without_a_warning(
    node: str, server: str, settings: Settings, session: AsyncSession
) -> None:
    token = issue_user_token(settings, await f.user_id(session, "ada@acme.test"))
    audit = await asyncio.create_subprocess_exec(
        node,
        str(AUDIT / "audit.mjs"),
        f"{server}/graphql",
        env={**os.environ, "HTTP_AUDIT_TOKEN": token},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(audit.communicate(), 120)
    report = output.decode()
    assert audit.returncode == 0, report
    summary = report.strip().splitlines()[-1]
    assert summary == "graphql-http audit: 61 ok, 0 notices, 0 warnings, 0 errors", report
