"""The trusted-documents manifest, generated from the SPA's operations.

Source: ``operations/spa/*.graphql`` at the top of the repository, each file one or more
named operations and fragments (fragments are shared by every file, by name). Output:
``app/edge/trusted_documents.json`` (committed, shipped with the package)::

    {"format": 1, "operations": {"<sha256>": "<document>", ...}}

One entry per operation: the document holding that operation and the fragments it uses
(transitively, by name), printed with ``graphql.print_ast`` so the text, and the hash the
SPA sends, depend only on the operation, not on the source's layout. Entries are in
operation-name order so a change to one operation changes one entry of the diff.

``python -m app persisted-manifest`` writes it; ``--check`` fails when it is stale.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    Node,
    OperationDefinitionNode,
    Visitor,
    parse,
    print_ast,
    specified_rules,
    validate,
    visit,
)

from app.edge.persisted import MANIFEST_FORMAT, MANIFEST_PATH, sha256_hex

SOURCE_DIR = Path(__file__).resolve().parents[2] / "operations" / "spa"


class ManifestError(Exception):
    """The operations cannot make a manifest (the message says which file and why)."""


@dataclass(frozen=True, slots=True)
class TrustedOperation:
    name: str
    document: str  # canonical text
    sha256_hash: str


class _SpreadCollector(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: object) -> None:
        self.names.add(node.name.value)


def _spreads(node: Node) -> set[str]:
    collector = _SpreadCollector()
    visit(node, collector)
    return collector.names


def _read_sources(
    files: Iterable[Path],
) -> tuple[dict[str, tuple[Path, OperationDefinitionNode]], dict[str, FragmentDefinitionNode]]:
    operations: dict[str, tuple[Path, OperationDefinitionNode]] = {}
    fragments: dict[str, FragmentDefinitionNode] = {}
    fragment_files: dict[str, Path] = {}
    for path in files:
        try:
            document = parse(path.read_text(encoding="utf-8"), no_location=True)
        except GraphQLError as error:
            raise ManifestError(f"{path}: {error.message}") from None
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                if definition.name is None:
                    raise ManifestError(f"{path}: every operation needs a name")
                name = definition.name.value
                if name in operations:
                    raise ManifestError(
                        f"{path}: operation {name} is also defined in {operations[name][0]}"
                    )
                operations[name] = (path, definition)
            elif isinstance(definition, FragmentDefinitionNode):
                name = definition.name.value
                if name in fragments:
                    raise ManifestError(
                        f"{path}: fragment {name} is also defined in {fragment_files[name]}"
                    )
                fragments[name] = definition
                fragment_files[name] = path
            else:
                raise ManifestError(f"{path}: only operations and fragments belong here")
    return operations, fragments


def _document_of(
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    path: Path,
) -> DocumentNode:
    needed: set[str] = set()
    pending = _spreads(operation)
    while pending:
        name = pending.pop()
        if name in needed:
            continue
        fragment = fragments.get(name)
        if fragment is None:
            raise ManifestError(f"{path}: unknown fragment {name}")
        needed.add(name)
        pending |= _spreads(fragment) - needed
    return DocumentNode(definitions=(operation, *(fragments[n] for n in sorted(needed))))


def trusted_operations(source_dir: Path = SOURCE_DIR) -> list[TrustedOperation]:
    """Every operation of the source files, canonical and validated against the schema."""
    from app.config import Settings
    from app.edge.analysis import check_limits
    from app.edge.errors import Refused
    from app.edge.operation import limits_of
    from app.graphql.schema import core_schema

    limits = limits_of(Settings())

    files = sorted(source_dir.glob("*.graphql"))
    if not files:
        raise ManifestError(f"no operations in {source_dir} (*.graphql)")
    operations, fragments = _read_sources(files)
    result = []
    for name in sorted(operations):
        path, operation = operations[name]
        document = _document_of(operation, fragments, path)
        errors = validate(core_schema, document, specified_rules)
        try:
            check_limits(document, limits)
        except Refused as refusal:
            raise ManifestError(f"{path}: operation {name} is over a limit: {refusal}") from None
        if errors:
            raise ManifestError(
                f"{path}: operation {name} is not valid against the schema: "
                + "; ".join(e.message for e in errors)
            )
        text = print_ast(document)
        result.append(TrustedOperation(name, text, sha256_hex(text)))
    return result


def render_manifest(operations: Iterable[TrustedOperation]) -> str:
    entries = {op.sha256_hash: op.document for op in operations}
    manifest = {"format": MANIFEST_FORMAT, "operations": entries}
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


def build_manifest(source_dir: Path = SOURCE_DIR) -> str:
    """The manifest's text for the operations in ``source_dir``."""
    return render_manifest(trusted_operations(source_dir))


def write_manifest(source_dir: Path = SOURCE_DIR, path: Path = MANIFEST_PATH) -> int:
    """Write the manifest; the number of operations in it."""
    operations = trusted_operations(source_dir)
    path.write_text(render_manifest(operations), encoding="utf-8")
    return len(operations)


def check_manifest(source_dir: Path = SOURCE_DIR, path: Path = MANIFEST_PATH) -> int:
    """The number of operations; ManifestError when the committed manifest is stale."""
    operations = trusted_operations(source_dir)
    try:
        committed = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        committed = None
    if committed != render_manifest(operations):
        raise ManifestError(
            f"{path} is stale: it differs from what {source_dir} generates. Regenerate it "
            "with `python -m app persisted-manifest` and commit the result."
        )
    return len(operations)
