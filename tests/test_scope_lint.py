"""The tenant-scope lint: every SQL construct on a tenant table starts from the scoped
helpers of app/domain/tenant.py (scoped, among, scoped_update, scoped_delete), or sits
under an in-line escape that says why it is safe. docs/architecture.md ("The scope
lint") says the same for readers of the code.

It walks whole expressions in every module of app/ but app/migrations. An expression
touches a tenant table (app.models TENANT_TABLES, ``workspaces`` included) when it names
a tenant model (``Member``, ``Member.id``, an ``import … as`` alias), carries SQL text
naming a tenant table (``FROM members``, ``JOIN roles``, ``UPDATE teams``, ``INTO
api_keys``, ``TRUNCATE``; f-strings too; docstrings are prose), or passes a tenant
table's name to ``table()``/``Table()``/``literal_column()``. It is an error when it
does so
- in the arguments of a raw constructor: ``select``, ``update``, ``delete``, ``insert``,
  ``text``, ``exec_driver_sql``, ``aliased``, ``union``, ``exists``, ``Table``, …;
- in any method of a statement started from one (``select(User.id).where(Member.user_id
  == User.id)`` reads members: SQLAlchemy adds it to FROM);
- in ``join``/``outerjoin``/``select_from``/``add_columns``/``with_only_columns`` of a
  statement not started from a scoped helper;
- as ``session.get(Model, …)``, a prepared read's ``Related(name, Model, on)`` join,
  ``Model.__table__`` (or ``table_of(Model)``, app/db/types.py), or SQL text anywhere.
A column in ``where``/``order_by``/``join`` of a scoped statement is fine: it already
starts from the workspace. "Started from" follows method chains, local variables
(``stmt = scoped(…)``; ``stmt = stmt.where(…)``) and the module's functions that
return scoped statements; a model passed in a variable (the helpers themselves,
``rows_by_ids(model)``, ``Related`` and ``lean`` in app/db) is not followed: generic
helpers are reviewed as helpers. ORM unit-of-work writes (``session.add(Member(…))``,
changes to a loaded entity) are not SQL constructs here: the row carries its
workspace_id, and row-level security's WITH CHECK holds it on PostgreSQL.

The escape is a comment ``# scope: <reason>`` on a line of the statement or in the
comment block right above it (it covers that statement), or on the ``def`` line(s),
decorators or the comment block above them (it covers the whole function). An escape
without a reason, or one that excuses nothing, is itself an error.

Not walked: app/migrations (schema history run by the owning role: DDL, policies and
backfills over every workspace by nature, and released revisions are frozen). The
benchmark (scripts/benchmark) is not app code: it seeds every workspace as the owner.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlmodel import SQLModel

import app.models  # noqa: F401 - registers the tables
from app.models import TENANT_TABLES

APP = Path(__file__).resolve().parent.parent / "app"
EXCLUDED = ("migrations/",)

SCOPED = {"scoped", "among", "scoped_update", "scoped_delete"}
# Constructors that start a statement (or a selectable) of their own.
RAW = {
    "select",
    "update",
    "delete",
    "insert",
    "text",
    "exec_driver_sql",
    "aliased",
    "union",
    "union_all",
    "exists",
    "Table",
    "table",
    "literal_column",
}
# Methods that bring another table into a statement: fine on a scoped statement.
WIDENING = {"join", "outerjoin", "select_from", "add_columns", "with_only_columns"}

# Models of the tenant tables (Workspace too: keyed by its own id, it has no scoped
# helper, so each statement on it carries an escape saying which workspace it reads).
TENANT_MODELS = {
    mapper.class_.__name__: mapper.local_table.name
    for mapper in SQLModel._sa_registry.mappers
    if mapper.local_table.name in TENANT_TABLES
}
_NAMES = "|".join(sorted(TENANT_TABLES, key=len, reverse=True))
SQL_TEXT = re.compile(
    rf"\b(?:FROM|JOIN|UPDATE|INTO|TABLE|TRUNCATE)\s+(?:ONLY\s+)?\"?(?:{_NAMES})\b", re.IGNORECASE
)
ESCAPE = re.compile(r"^#\s*scope:(.*)$")


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


class _Module:
    def __init__(self, source: str, rel: str) -> None:
        self.rel = rel
        self.tree = ast.parse(source, filename=rel)
        self.models = dict(TENANT_MODELS)  # local name -> table
        for node in ast.walk(self.tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("app.models"):
                for alias in node.names:
                    if alias.name in TENANT_MODELS and alias.asname:
                        self.models[alias.asname] = TENANT_MODELS[alias.name]
        # Names a call is made on as on a module: ``sa.select(…)``, ``tenant.scoped(…)``.
        self.namespaces = {
            (alias.asname or alias.name).split(".")[0]
            for node in ast.walk(self.tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
            if isinstance(node, ast.Import) or (alias.asname or alias.name).islower()
        }
        self.functions = list(_functions(self.tree))
        self.helpers = set(SCOPED)
        self._scoped_cache: dict[tuple[int, int], set[str]] = {}
        self._raw_cache: dict[int, set[str]] = {}
        for _ in range(3):  # helpers built on helpers
            self.helpers |= {fn.name for fn in self.functions if self._returns_scoped(fn)}
        self.comment_only = {
            n for n, line in enumerate(source.splitlines(), 1) if line.lstrip().startswith("#")
        }
        self.escapes: dict[int, str] = {}
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT and (m := ESCAPE.search(token.string)):
                self.escapes[token.start[0]] = m.group(1).strip()
        self.docstrings = {
            id(node.body[0].value)
            for node in ast.walk(self.tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }

    def _model(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Name) and node.id in self.models:
            return node.id
        if isinstance(node, ast.Attribute) and node.attr in TENANT_MODELS:
            return node.attr
        return None

    def _sql_text(self, node: ast.AST) -> str | None:
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in self.docstrings
            and (m := SQL_TEXT.search(node.value))
        ):
            return m.group(0)
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            if m := SQL_TEXT.search(text):
                return m.group(0)
        return None

    def touches(self, node: ast.AST) -> str | None:
        """What in this expression names a tenant table, if anything."""
        for sub in ast.walk(node):
            if name := self._model(sub):
                return name
            if isinstance(sub, ast.Attribute) and (name := self._model(sub.value)):
                return f"{name}.{sub.attr}"
            if text := self._sql_text(sub):
                return repr(text)
            if isinstance(sub, ast.Constant) and str(sub.value).split(".")[0] in TENANT_TABLES:
                return repr(sub.value)
        return None

    def root(self, node: ast.expr) -> str | None:
        """The name of the call a method chain starts from: ``scoped`` for
        ``scoped(M, w).where(…).join(…)`` (or ``tenant.scoped(…)…``); ``$stmt`` for
        ``stmt.where(…)``."""
        while True:
            if isinstance(node, ast.Name):
                return f"${node.id}"
            if isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Attribute):
                    if isinstance(func.value, ast.Name) and func.value.id in self.namespaces:
                        return func.attr
                    node = func.value
                    continue
                return _called_name(node)
            if isinstance(node, ast.Attribute):
                node = node.value
                continue
            return None

    def _started(self, value: ast.expr, roots: set[str], names: set[str]) -> bool:
        root = self.root(value)
        return root in roots or (root is not None and root.startswith("$") and root[1:] in names)

    def _scope_of(self, node: ast.AST) -> ast.AST:
        lineno = getattr(node, "lineno", 0)
        inner = [fn for fn in self.functions if fn.lineno <= lineno <= (fn.end_lineno or 0)]
        return inner[-1] if inner else self.tree

    def _scoped_names(self, scope: ast.AST) -> set[str]:
        """Variables of ``scope`` only ever assigned statements started from the scoped
        helpers (``stmt = scoped(…)``, ``stmt = stmt.where(…)``)."""
        key = (id(scope), len(self.helpers))
        if key not in self._scoped_cache:
            self._scoped_cache[key] = self._scoped_names_uncached(scope)
        return self._scoped_cache[key]

    def _scoped_names_uncached(self, scope: ast.AST) -> set[str]:
        values = _assignments(scope)
        scoped = set(values)
        while True:
            kept = {
                n for n in scoped if all(self._started(v, self.helpers, scoped) for v in values[n])
            }
            if kept == scoped:
                return scoped
            scoped = kept

    def _raw_names(self, scope: ast.AST) -> set[str]:
        """Variables of ``scope`` ever assigned a statement started from a raw
        constructor (``stmt = select(User)``, then ``stmt = stmt.where(…)``)."""
        values = _assignments(scope)
        raw: set[str] = set()
        while True:
            grown = {n for n in values if any(self._started(v, RAW, raw) for v in values[n])}
            if grown == raw:
                return raw
            raw = grown

    def _returns_scoped(self, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        """A function of this module whose every return starts from a scoped helper
        (``_visible(…)`` returning ``scoped(Conversation, …).where(…)``)."""
        returns = [
            node.value
            for node in ast.walk(fn)
            if isinstance(node, ast.Return) and node.value is not None
        ]
        names = self._scoped_names(fn)
        return bool(returns) and all(self._started(v, self.helpers, names) for v in returns)

    def _started_scoped(self, call: ast.Call) -> bool:
        return self._started(call, self.helpers, self._scoped_names(self._scope_of(call)))

    def _started_raw(self, call: ast.Call) -> bool:
        scope = self._scope_of(call)
        if id(scope) not in self._raw_cache:
            self._raw_cache[id(scope)] = self._raw_names(scope)
        return self._started(call, RAW, self._raw_cache[id(scope)])

    def findings(self) -> Iterator[tuple[ast.AST, str]]:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call):
                name = _called_name(node)
                args: list[ast.AST] = [*node.args, *(k.value for k in node.keywords)]
                if name in RAW or (name == "execute" and any(self._sql_text(a) for a in args)):
                    hit = next((t for a in args if (t := self.touches(a))), None)
                    if hit:
                        yield node, f"raw {name}({hit})"
                elif name == "Related" and len(node.args) > 1 and self._model(node.args[1]):
                    yield node, f"join of {self._model(node.args[1])} (Related)"
                elif name == "get" and node.args and self._model(node.args[0]):
                    yield node, f"session.get({self._model(node.args[0])})"
                elif name == "table_of" and node.args and self._model(node.args[0]):
                    yield node, f"table_of({self._model(node.args[0])}) (its __table__)"
                elif name in WIDENING and not self._started_scoped(node):
                    hit = next((t for a in args if (t := self.touches(a))), None)
                    if hit:
                        yield node, f"{name}({hit}) on an unscoped statement"
                elif isinstance(node.func, ast.Attribute) and self._started_raw(node):
                    # select(User.id).where(Member.user_id == User.id) reads members too
                    hit = next((t for a in args if (t := self.touches(a))), None)
                    if hit:
                        yield node, f"{name}({hit}) on a raw statement"
            elif (
                isinstance(node, ast.Attribute)
                and node.attr == "__table__"
                and self._model(node.value)
            ):
                yield node, f"{self._model(node.value)}.__table__"
            elif text := self._sql_text(node):
                yield node, f"SQL text {text!r}"


def _assignments(scope: ast.AST) -> dict[str, list[ast.expr]]:
    values: dict[str, list[ast.expr]] = {}
    for node in ast.walk(scope):
        pairs: list[tuple[ast.expr, ast.expr]] = []
        if isinstance(node, ast.Assign):
            pairs = [(t, node.value) for t in node.targets]
        elif isinstance(node, ast.AnnAssign | ast.AugAssign) and node.value is not None:
            pairs = [(node.target, node.value)]
        for target, value in pairs:
            if isinstance(target, ast.Name):
                values.setdefault(target.id, []).append(value)
    return values


def _functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def _with_comments_above(module: _Module, lines: range) -> list[int]:
    """``lines`` and the comment lines right above them."""
    first = lines.start
    while first - 1 in module.comment_only:
        first -= 1
    return list(range(first, lines.stop))


def _statement_lines(tree: ast.AST, node: ast.AST) -> range:
    """The lines of the innermost statement holding ``node`` (of a compound statement,
    ``if``/``for``/``with``…, its header only)."""
    best: range | None = None
    for stmt in ast.walk(tree):
        if not isinstance(stmt, ast.stmt) or isinstance(
            stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
        ):
            continue
        body = getattr(stmt, "body", None)
        end = body[0].lineno - 1 if body else (stmt.end_lineno or stmt.lineno)
        lines = range(stmt.lineno, max(end, stmt.lineno) + 1)
        if node.lineno in lines and (best is None or lines.start >= best.start):
            best = lines
    return best or range(node.lineno, node.lineno + 1)


def check(source: str, rel: str) -> list[str]:
    """The lint's errors for one module's source (``rel``: its path under app/)."""
    module = _Module(source, rel)
    used: set[int] = set()
    errors = []
    for node, what in module.findings():
        lineno = getattr(node, "lineno", 0)
        lines = _with_comments_above(module, _statement_lines(module.tree, node))
        enclosing = [fn for fn in module.functions if fn.lineno <= lineno <= (fn.end_lineno or 0)]
        for fn in enclosing:  # the def line(s), decorators and the comments above them
            start = min([fn.lineno, *(d.lineno for d in fn.decorator_list)])
            lines += _with_comments_above(module, range(start, fn.body[0].lineno))
        escape = next((line for line in lines if line in module.escapes), None)
        if escape is None:
            where = f" {enclosing[-1].name}" if enclosing else ""
            errors.append(f"app/{rel}:{lineno}{where}: {what}")
        else:
            used.add(escape)
    for line, reason in sorted(module.escapes.items()):
        if not reason:
            errors.append(f"app/{rel}:{line}: '# scope:' escape without a reason")
        elif line not in used:
            errors.append(f"app/{rel}:{line}: '# scope:' escape excuses nothing")
    return sorted(set(errors), key=_position)


def _position(error: str) -> tuple[str, int, str]:
    path, line, rest = error.split(":", 2)
    return path, int(line.split()[0]), rest


def violations(root: Path = APP) -> list[str]:
    return [error for rel, source in _sources(root) for error in check(source, rel)]


def _sources(root: Path) -> Iterable[tuple[str, str]]:
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if not rel.startswith(EXCLUDED):
            yield rel, path.read_text()


def _leak(body: str) -> list[str]:
    source = "import sqlalchemy as sa\nfrom app.domain import tenant\n"
    return check(f"{source}async def leak(session, workspace_id):\n    {body}\n", "domain/leaky.py")


def test_tenant_models_are_known() -> None:
    assert {"Member", "Role", "Team", "Conversation", "ApiKey", "AuditEvent"} <= set(TENANT_MODELS)
    assert set(TENANT_MODELS.values()) == set(TENANT_TABLES)
    assert "Workspace" in TENANT_MODELS and "User" not in TENANT_MODELS


def test_every_statement_on_a_tenant_table_in_app_starts_from_the_scoped_helpers() -> None:
    assert violations() == [], (
        "start these from app.domain.tenant.scoped()/among()/scoped_update()/scoped_delete(),"
        " or mark the statement or its def line '# scope: <why this is safe>'"
    )


def test_the_lint_catches_a_raw_select_of_the_model() -> None:
    assert _leak("return await session.execute(select(Member))") == [
        "app/domain/leaky.py:4 leak: raw select(Member)"
    ]


def test_the_lint_catches_a_projection_of_a_column() -> None:
    assert _leak("return await session.execute(select(Member.id))") == [
        "app/domain/leaky.py:4 leak: raw select(Member.id)"
    ]


def test_the_lint_catches_the_table_s_columns() -> None:
    assert _leak("return await session.execute(select(*Member.__table__.columns))") == [
        "app/domain/leaky.py:4 leak: Member.__table__",
        "app/domain/leaky.py:4 leak: raw select(Member.__table__)",
    ]


def test_the_lint_catches_a_table_read_through_table_of() -> None:
    assert _leak("return await session.execute(select(*table_of(Member).columns))") == [
        "app/domain/leaky.py:4 leak: raw select(Member)",
        "app/domain/leaky.py:4 leak: table_of(Member) (its __table__)",
    ]


def test_the_lint_catches_sql_text() -> None:
    assert _leak('return await session.execute(text("SELECT * FROM members"))') == [
        "app/domain/leaky.py:4 leak: SQL text 'FROM members'",
        "app/domain/leaky.py:4 leak: raw text('FROM members')",
    ]


def test_the_lint_catches_sql_text_passed_to_execute_and_in_f_strings() -> None:
    assert _leak('await session.exec_driver_sql(f"DELETE FROM teams WHERE id = {1}")') == [
        "app/domain/leaky.py:4 leak: SQL text 'FROM teams'",
        "app/domain/leaky.py:4 leak: raw exec_driver_sql('FROM teams')",
    ]


def test_the_lint_catches_a_join_onto_an_unscoped_statement() -> None:
    assert _leak("return select(User).join(Member, Member.user_id == User.id)") == [
        "app/domain/leaky.py:4 leak: join(Member) on an unscoped statement"
    ]


def test_the_lint_catches_a_lookup_by_primary_key_and_an_alias() -> None:
    source = (
        "from app.models import Role as R\n"
        "async def leak(session, role_id):\n"
        "    return await session.get(R, role_id)\n"
    )
    assert check(source, "domain/leaky.py") == ["app/domain/leaky.py:3 leak: session.get(R)"]


def test_a_scoped_statement_may_filter_and_join_on_tenant_columns() -> None:
    assert (
        _leak(
            "return scoped(Member, workspace_id).where(Member.id == 1)"
            ".join(Role, Role.id == Member.role_id).order_by(Member.created_at)"
        )
        == []
    )


def test_an_escape_with_a_reason_on_the_statement_or_the_def_line_excuses_it() -> None:
    on_statement = (
        "async def by_user(session, user_id):\n"
        "    stmt = select(Member).where(Member.user_id == user_id)  # scope: the viewer's own\n"
        "    return await session.execute(stmt)\n"
    )
    on_def = (
        "async def by_user(  # scope: the viewer's own memberships\n"
        "    session, user_id\n"
        "):\n"
        "    return await session.execute(select(Member).where(Member.user_id == user_id))\n"
    )
    above_def = (
        "# scope: the viewer's own memberships, by user id,\n"
        "#   before the workspace is known\n"
        "async def by_user(session, user_id):\n"
        "    return await session.execute(select(Member).where(Member.user_id == user_id))\n"
    )
    assert check(on_statement, "domain/x.py") == []
    assert check(on_def, "domain/x.py") == []
    assert check(above_def, "domain/x.py") == []


def test_an_escape_without_a_reason_is_an_error() -> None:
    source = (
        "async def by_user(session, user_id):  # scope:\n"
        "    return await session.execute(select(Member.id))\n"
    )
    assert check(source, "domain/x.py") == ["app/domain/x.py:1: '# scope:' escape without a reason"]


def test_an_escape_that_excuses_nothing_is_an_error() -> None:
    source = (
        "async def by_id(session, workspace_id):  # scope: was raw once\n"
        "    return await session.execute(scoped(Member, workspace_id))\n"
    )
    assert check(source, "domain/x.py") == ["app/domain/x.py:1: '# scope:' escape excuses nothing"]


def test_a_statement_kept_in_a_variable_or_returned_by_a_helper_stays_scoped() -> None:
    source = (
        "def _visible(workspace_id):\n"
        "    stmt = scoped(Team, workspace_id)\n"
        "    stmt = stmt.where(Team.archived_at.is_(None))\n"
        "    return stmt\n"
        "def with_members(workspace_id):\n"
        "    return _visible(workspace_id).join(TeamMember, TeamMember.team_id == Team.id)\n"
        "def leak(workspace_id):\n"
        "    stmt = scoped(Team, workspace_id)\n"
        "    stmt = select(User)\n"
        "    return stmt.join(TeamMember, TeamMember.user_id == User.id)\n"
    )
    assert check(source, "domain/x.py") == [
        "app/domain/x.py:10 leak: join(TeamMember) on an unscoped statement"
    ]


def test_a_related_join_of_a_tenant_table_needs_an_escape() -> None:
    source = 'MEMBER_ROLE = Related("role", Role, lambda role: role.id == Member.role_id)\n'
    assert check(source, "domain/x.py") == ["app/domain/x.py:1: join of Role (Related)"]


def test_the_lint_catches_a_tenant_table_brought_in_by_a_filter() -> None:
    # SQLAlchemy adds members to FROM: a cross-workspace read with no tenant in select()
    assert _leak("return sa.select(User.id).where(Member.user_id == User.id)") == [
        "app/domain/leaky.py:4 leak: where(Member.user_id) on a raw statement"
    ]
    assert _leak("return sa.exists().where(Team.name == 'x')") == [
        "app/domain/leaky.py:4 leak: where(Team.name) on a raw statement"
    ]


def test_helpers_called_through_their_module_start_a_scoped_statement() -> None:
    assert _leak("return tenant.scoped(Team, workspace_id).join(TeamMember)") == []
    assert _leak("return sa.select(Team.id).join(TeamMember)") == [
        "app/domain/leaky.py:4 leak: join(TeamMember) on an unscoped statement",
        "app/domain/leaky.py:4 leak: raw select(Team.id)",
    ]


def test_the_lint_catches_a_table_named_by_string_but_not_prose_in_a_docstring() -> None:
    source = (
        "import sqlalchemy as sa\n"
        "def leak():\n"
        '    """Reads FROM members, as prose."""\n'
        '    return sa.select(sa.literal_column("members.id")).select_from(sa.table("members"))\n'
    )
    assert check(source, "domain/x.py") == [
        "app/domain/x.py:4 leak: raw literal_column('members.id')",
        "app/domain/x.py:4 leak: raw select('members.id')",
        "app/domain/x.py:4 leak: raw table('members')",
        "app/domain/x.py:4 leak: select_from('members') on an unscoped statement",
    ]
