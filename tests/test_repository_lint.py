"""Every SQL statement on a tenant table starts from the tenant-scoped helpers of
app/domain/tenant.py (scoped, among, scoped_update, scoped_delete). This walks the
domain layer's source and fails on a raw select/update/delete of a tenant model,
except the few listed below, each with the reason it is safe."""

from __future__ import annotations

import ast
from pathlib import Path

from sqlmodel import SQLModel

import app.models  # noqa: F401 - registers the tables
from app.models import TENANT_TABLES

DOMAIN = Path(__file__).resolve().parent.parent / "app" / "domain"
RAW = {"select", "update", "delete"}

# Models whose table carries workspace_id (Workspace itself is keyed by its own id).
TENANT_MODELS = {
    mapper.class_.__name__
    for mapper in SQLModel._sa_registry.mappers
    if mapper.local_table.name in TENANT_TABLES and "workspace_id" in mapper.local_table.c
}

ALLOWED: dict[tuple[str, str], str] = {
    (
        "members/repository.py",
        "memberships_of_user",
    ): "the viewer's own memberships, by user id, before "
    "the workspace is known (authentication; under RLS only the viewer's workspaces)",
    ("members/writes.py", "memberships_of_user_everywhere"): "account deletion removes the user's "
    "memberships in every workspace they belong to",
    ("members/writes.py", "delete_memberships"): "ids come from memberships_of_user_everywhere",
    ("roles/repository.py", "granted_permissions"): "filters by (workspace_id, role_id) pairs",
    (
        "api_keys/repository.py",
        "api_key_by_secret",
    ): "authentication by the key's public prefix, before the workspace is known",
    (
        "accounts/writes.py",
        "revoke_keys_created_by",
    ): "account deletion revokes the user's keys everywhere",
    (
        "invitations/repository.py",
        "invitation_addressed_to",
    ): "the invitee's own invitation, by id and their account's e-mail, before they belong to "
    "its workspace (RLS: the invitations policy's e-mail clause)",
    (
        "invitations/repository.py",
        "invitations_addressed_to",
    ): "the invitee's own invitations across workspaces, by their account's e-mail (SQLite; "
    "PostgreSQL asks harmony_viewer_invitations)",
}


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _tenant_models_in(call: ast.Call) -> list[str]:
    return [a.id for a in call.args if isinstance(a, ast.Name) and a.id in TENANT_MODELS]


def violations(root: Path = DOMAIN) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel == "tenant.py":
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if (
                    isinstance(node, ast.Call)
                    and _called_name(node) in RAW
                    and _tenant_models_in(node)
                ) and (rel, fn.name) not in ALLOWED:
                    found.append(
                        f"app/domain/{rel}:{node.lineno} {fn.name}: raw {_called_name(node)}"
                        f"({', '.join(_tenant_models_in(node))})"
                    )
    return found


def test_tenant_models_are_known() -> None:
    assert {"Member", "Role", "Team", "Conversation", "ApiKey", "AuditEvent"} <= TENANT_MODELS
    assert "Workspace" not in TENANT_MODELS and "User" not in TENANT_MODELS


def test_every_statement_on_a_tenant_table_starts_from_the_scoped_helpers() -> None:
    assert violations() == [], (
        "start these from app.domain.tenant.scoped()/among()/scoped_update()/scoped_delete()"
    )


def test_the_lint_catches_a_raw_select(tmp_path: Path) -> None:
    (tmp_path / "leaky").mkdir()
    (tmp_path / "leaky" / "repository.py").write_text(
        "async def leak(session):\n    return await session.execute(select(Member))\n"
    )
    assert violations(tmp_path) == ["app/domain/leaky/repository.py:2 leak: raw select(Member)"]


def test_allowlist_has_no_stale_entries() -> None:
    present = set()
    for path in DOMAIN.rglob("*.py"):
        rel = path.relative_to(DOMAIN).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                present.add((rel, node.name))
    assert set(ALLOWED) <= present
