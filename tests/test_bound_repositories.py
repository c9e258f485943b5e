"""Workspace-bound repositories (docs/architecture.md, "Bound repositories").

A repository object is made only for a workspace the request is bound to
(``RequestDB.bound``: the tenant context authentication entered), reads only that
workspace, and takes the request's session itself. Resolvers (app/graphql) go through
it: they open no session of their own and run no repository statement with a session
and a workspace id by hand. The lint below holds app/graphql to that; a place that must
take the session itself (the unit of work) says why in a ``# session: <reason>``
comment on the line or right above it.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.auth.permissions import PermissionSet
from app.auth.viewer import Membership, Viewer
from app.db.engine import create_sessionmaker
from app.db.session import RequestDB
from app.db.tenant import enter
from app.domain.members.repository import MemberFilter
from app.domain.pagination import Window
from app.domain.repositories import WorkspaceRepository
from app.graphql.context import Context
from app.graphql.errors import NotFound
from tests import factories
from tests.conftest import test_settings as settings_for

GRAPHQL = Path(__file__).resolve().parent.parent / "app" / "graphql"
ESCAPE = re.compile(r"#\s*session:(.*)$")
# Modules whose functions are statements taking (session, …): the bound repositories'.
REPOSITORY_MODULE = re.compile(r"^app\.domain\.(\w+\.repository|audit)$")


def _escape(lines: list[str], lineno: int) -> str | None:
    """The reason of a ``# session:`` comment on line ``lineno`` (1-based) or in the
    comment block right above it; "" for an escape without one; None for none."""
    found = ESCAPE.search(lines[lineno - 1])
    i = lineno - 2
    while found is None and i >= 0 and lines[i].strip().startswith("#"):
        found = ESCAPE.search(lines[i])
        i -= 1
    return None if found is None else found.group(1).strip()


def _is_statement(module: str, name: str) -> bool:
    """A repository function whose first parameter is the session."""
    target = getattr(importlib.import_module(module), name, None)
    if not inspect.isfunction(target):
        return False
    params = list(inspect.signature(target).parameters)
    return bool(params) and params[0] == "session"


def _holds_session(node: ast.AST) -> bool:
    """A function handed the request's session (a unit of work's ``work(session, …)``)."""
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return False
    args = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
    return any(
        a.annotation is not None and "AsyncSession" in ast.unparse(a.annotation) for a in args
    )


def problems(source: str, where: str = "<code>") -> list[str]:
    """What the lint finds in one module's source."""
    tree = ast.parse(source)
    lines = source.splitlines()
    modules: dict[str, str] = {}  # local name -> repository module
    functions: dict[str, tuple[str, str]] = {}  # local name -> (module, function)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                local = alias.asname or alias.name
                if REPOSITORY_MODULE.match(f"{node.module}.{alias.name}"):
                    modules[local] = f"{node.module}.{alias.name}"
                elif REPOSITORY_MODULE.match(node.module):
                    functions[local] = (node.module, alias.name)
    found: list[str] = []

    def visit(node: ast.AST, session_in_hand: bool) -> None:
        session_in_hand = session_in_hand or _holds_session(node)
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "session" and not node.args:
                reason = _escape(lines, node.lineno)
                if reason is None:
                    found.append(f"{where}:{node.lineno}: takes the session itself")
                elif not reason:
                    found.append(f"{where}:{node.lineno}: `# session:` without a reason")
            target = None
            if isinstance(func, ast.Name) and func.id in functions:
                target = functions[func.id]
            elif (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id in modules
            ):
                target = (modules[func.value.id], func.attr)
            if target is not None and not session_in_hand and _is_statement(*target):
                found.append(
                    f"{where}:{node.lineno}: runs {target[0]}.{target[1]} by hand "
                    "(use the bound repository)"
                )
        for child in ast.iter_child_nodes(node):
            visit(child, session_in_hand)

    visit(tree, False)
    return found


def test_resolvers_take_no_session_and_run_no_statement_by_hand() -> None:
    found = [
        p
        for path in sorted(GRAPHQL.rglob("*.py"))
        for p in problems(path.read_text(), str(path.relative_to(GRAPHQL.parent.parent)))
    ]
    assert found == []


def test_the_lint_catches_a_resolver_opening_the_session() -> None:
    code = (
        "async def subscription(self, info):\n"
        "    async with info.context.db.session() as s:\n"
        "        return await s.get(1)\n"
    )
    assert problems(code) == ["<code>:2: takes the session itself"]


def test_a_session_taken_with_a_reason_passes_and_one_without_fails() -> None:
    reasoned = (
        "async def run(ctx):\n"
        "    # session: the unit of work holds it for the whole change\n"
        "    async with ctx.db.session() as s:\n"
        "        pass\n"
    )
    assert problems(reasoned) == []
    bare = "async def run(ctx):\n    async with ctx.db.session() as s:  # session:\n        pass\n"
    assert problems(bare) == ["<code>:2: `# session:` without a reason"]


def test_the_lint_catches_a_repository_statement_run_with_a_workspace_id_by_hand() -> None:
    through_module = (
        "from app.domain.members import repository as members\n"
        "async def count(s, ws, f):\n"
        "    return await members.members_count(s, ws, f)\n"
    )
    assert problems(through_module) == [
        "<code>:3: runs app.domain.members.repository.members_count by hand "
        "(use the bound repository)"
    ]
    by_name = (
        "from app.domain.workspaces.repository import subscription\n"
        "async def plan(s, ws):\n"
        "    return await subscription(s, ws)\n"
    )
    assert len(problems(by_name)) == 1


def test_a_statement_in_a_unit_of_work_and_a_plain_helper_pass() -> None:
    code = (
        "from sqlalchemy.ext.asyncio import AsyncSession\n"
        "from app.domain.workspaces.repository import workspaces_by_ids\n"
        "from app.domain.conversations.repository import participants_with_accounts\n"
        "async def work(s: AsyncSession, ws: int):\n"
        "    return await workspaces_by_ids(s, [ws])\n"
        "def people(rows):\n"
        "    return participants_with_accounts(rows)\n"
    )
    assert problems(code) == []


def test_a_request_binds_only_a_workspace_of_its_tenant_context() -> None:
    db = RequestDB(async_sessionmaker())
    with pytest.raises(LookupError):
        db.bound(1)  # nothing entered yet
    db.tenant.user_id, db.tenant.workspace_ids = 7, (1, 3)
    assert db.bound(3).workspace_id == 3
    with pytest.raises(LookupError):
        db.bound(2)


def test_a_workspace_binding_is_made_by_the_request_alone() -> None:
    """``WorkspaceDB(…)`` is constructed nowhere in app/ but ``RequestDB.bound``, which
    checks the workspace against the tenant context first."""
    app = GRAPHQL.parent
    made = [
        f"{path.relative_to(app.parent)}:{node.lineno}"
        for path in sorted(app.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name | ast.Attribute)
        and (node.func.id if isinstance(node.func, ast.Name) else node.func.attr) == "WorkspaceDB"
    ]
    assert [m.split(":")[0] for m in made] == ["app/db/session.py"], made


def test_the_context_hands_out_one_repository_per_workspace_of_the_viewer_alone() -> None:
    db = RequestDB(async_sessionmaker())
    db.tenant.user_id, db.tenant.workspace_ids = 7, (1, 2)
    workspace: Any = SimpleNamespace(id=1)
    membership = Membership(1, 10, 100, None, (), PermissionSet(()), frozenset(), workspace)
    user: Any = SimpleNamespace(id=7, email="ada@acme.test")
    viewer = Viewer(user=user, memberships={1: membership})
    ctx = Context.create(db, viewer, settings_for("sqlite+aiosqlite://"), "req-1")
    repository = ctx.repository(1)
    assert repository.workspace_id == 1
    assert ctx.repository(1) is repository  # once per (request, workspace)
    assert repository.members is repository.members  # its areas on first use, once
    assert ctx.workspace(1).repository is repository  # the loaders read through it
    with pytest.raises(NotFound):
        ctx.repository(2)  # in the tenant context, but not a membership of the viewer's
    with pytest.raises(NotFound):
        ctx.repository(3)


async def test_a_workspace_repository_reads_its_own_workspace_alone(
    engine: AsyncEngine, session: AsyncSession
) -> None:
    acme = await factories.workspace_id(session, "acme")
    globex = await factories.workspace_id(session, "globex")
    cy = await factories.user_id(session, "cy@acme.test")  # a member of both
    db = RequestDB(create_sessionmaker(engine))
    try:
        async with db.session() as s:
            await enter(s, user_id=cy, workspace_ids=[acme])
        with pytest.raises(LookupError):
            db.bound(globex)  # cy's, but not a workspace this request entered
        members = WorkspaceRepository(db.bound(acme)).members
        page = await members.page(MemberFilter(), Window(size=100))
        assert {m.workspace_id for m in page.items} == {acme}
        assert await members.count(MemberFilter()) == len(page.items) == 4  # ada, ben, cy, eve
        found = await members.by_ids([m.id for m in page.items][:2])
        assert [m.workspace_id for m in found] == [acme, acme]
    finally:
        await db.finish(commit=False)
