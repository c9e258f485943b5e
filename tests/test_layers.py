"""The layering of app/ ([tool.importlinter] in pyproject.toml, docs/architecture.md
"Layers") holds, and each of its contracts fails on the import it exists to refuse."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = str(Path(shutil.which("lint-imports") or "lint-imports"))


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (fixed argv)
        [LINT_IMPORTS, "--no-cache"], cwd=root, capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Python of app/ and the contract, in a directory of their own."""
    root = tmp_path_factory.mktemp("layers")
    shutil.copy(ROOT / "pyproject.toml", root)
    shutil.copytree(
        ROOT / "app",
        root / "app",
        ignore=lambda d, names: [
            n for n in names if not n.endswith(".py") and not (Path(d) / n).is_dir()
        ],
    )
    return root


def test_the_contract_holds() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ", 0 broken." in result.stdout


CIRCLE = "No import circle"


@pytest.mark.parametrize(
    ("module", "bad_import", "broken"),
    [
        ("app/db/engine.py", "app.graphql.schema", "Layers"),
        ("app/domain/errors.py", "app.edge.pipeline", "Layers"),
        ("app/graphql/errors.py", "app.observability.access", "Layers"),
        ("app/graphql/users/types.py", "app.graphql.workspaces.types", CIRCLE),
        ("app/domain/errors.py", "strawberry", "nothing knows GraphQL"),
        ("app/models/enums.py", "graphql", "nothing knows GraphQL"),
        ("app/auth/tokens.py", "sqlalchemy", "app.auth is pure"),
        ("app/auth/permissions.py", "app.db.session", "app.auth is pure"),
    ],
)
def test_a_bad_import_breaks_the_contract(
    checkout: Path, module: str, bad_import: str, broken: str
) -> None:
    """Even one run only when a function is called (imports inside functions count)."""
    path = checkout / module
    original = path.read_text(encoding="utf-8")
    path.write_text(
        f"{original}\n\ndef _late() -> None:\n    import {bad_import}\n", encoding="utf-8"
    )
    try:
        result = lint_imports(checkout)
    finally:
        path.write_text(original, encoding="utf-8")
    assert result.returncode == 1, result.stdout + result.stderr
    report = result.stdout.split("Broken contracts", 1)[1]
    importer = module.removesuffix(".py").replace("/", ".")
    if broken == CIRCLE:  # the siblings, relative to their package: ".users -> .workspaces"
        a, b = importer.split("."), bad_import.split(".")
        first = next(i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y)
        importer, bad_import = f".{a[first]}", f".{b[first]}"
    assert broken in report
    assert f"{importer} -> {bad_import}" in report, report


def test_no_module_imports_itself_through_others() -> None:
    """Also inside app/domain, whose areas the circle contract skips (they call each
    other's services): every chain of imports between modules runs one way."""
    graph = grimp.build_graph("app", exclude_type_checking_imports=True, cache_dir=None)
    circles = [
        (importer, imported)
        for importer in sorted(graph.modules)
        for imported in sorted(graph.find_modules_directly_imported_by(importer))
        if graph.chain_exists(importer=imported, imported=importer)
    ]
    assert circles == []
