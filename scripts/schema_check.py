"""The breaking-change check: ``schema.graphql`` as it is now against the one of the
previous ``main``. Every breaking change (graphql-core's, and a field's access requirement
made stricter) must be named in a **Breaking** entry of CHANGELOG.md's Unreleased
section; dangerous changes are printed as warnings.

    python -m scripts.schema_check [--base REV]

A breaking change is named by its schema coordinate, in backticks: `Type`,
`Type.field`, `Type.field(argument:)`, `Enum.VALUE`, `Input.field`, `@directive`,
`@directive(argument:)` (the check prints the ones it wants). The rules, and why, are in
docs/deprecation.md.

The base ("the previous main"), unless ``--base`` or ``SCHEMA_BASE`` names a revision:
``origin/main`` if the clone has it, else ``main``; then

- when HEAD is in that main's history (CI on main, a clean clone of main, the lead after
  a merge): HEAD's first parent, the main before this commit or merge;
- otherwise (a branch, a pull request's merge ref): ``git merge-base HEAD main``, the main
  the branch started from, so changes made on main since are not taken for the branch's.

Exit status: 0 when every breaking change is listed, 1 when one is not, 2 when the base
cannot be read (no main, a shallow clone: fetch the history or pass ``--base``).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from graphql import (
    GraphQLField,
    GraphQLSchema,
    build_schema,
    is_enum_type,
    is_interface_type,
    is_object_type,
    print_ast,
)
from graphql.utilities import find_schema_changes
from graphql.utilities.find_schema_changes import BreakingChangeType, DangerousChangeType

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = "schema.graphql"
CHANGELOG_FILE = "CHANGELOG.md"
MAIN_REFS = ("origin/main", "main")

_NAME = r"[_A-Za-z][_0-9A-Za-z]*"
_MEMBER = rf"{_NAME}\.{_NAME}"
_ARGUMENT = rf"{_MEMBER}\({_NAME}:\)"
_DIRECTIVE = rf"@{_NAME}"

# Where graphql-core's description of each kind of breaking change names the coordinate
# that changed. tests/test_schema_check.py makes every kind happen, so a graphql-core
# that words one differently fails there, not silently here.
_COORDINATE: dict[BreakingChangeType, str] = {
    BreakingChangeType.TYPE_REMOVED: rf"^(?:Standard scalar )?({_NAME}) was removed",
    BreakingChangeType.TYPE_CHANGED_KIND: rf"^({_NAME}) changed from ",
    BreakingChangeType.TYPE_REMOVED_FROM_UNION: rf" was removed from union type ({_NAME})\.$",
    BreakingChangeType.VALUE_REMOVED_FROM_ENUM: rf"^Enum value ({_MEMBER}) was removed",
    BreakingChangeType.REQUIRED_INPUT_FIELD_ADDED: rf"^A required field ({_MEMBER}) was added",
    BreakingChangeType.IMPLEMENTED_INTERFACE_REMOVED: rf"^({_NAME}) no longer implements ",
    BreakingChangeType.FIELD_REMOVED: rf"^Field ({_MEMBER}) was removed",
    BreakingChangeType.FIELD_CHANGED_KIND: rf"^Field ({_MEMBER}) changed type ",
    BreakingChangeType.REQUIRED_ARG_ADDED: rf"^A required argument ({_ARGUMENT}) was added",
    BreakingChangeType.ARG_REMOVED: rf"^Argument ({_ARGUMENT}) was removed",
    BreakingChangeType.ARG_CHANGED_KIND: rf"^Argument ({_ARGUMENT}) has changed type ",
    BreakingChangeType.DIRECTIVE_REMOVED: rf"^Directive ({_DIRECTIVE}) was removed",
    BreakingChangeType.DIRECTIVE_ARG_REMOVED: rf"^Argument ({_DIRECTIVE}\({_NAME}:\)) was removed",
    BreakingChangeType.REQUIRED_DIRECTIVE_ARG_ADDED: (
        rf"^A required argument ({_DIRECTIVE}\({_NAME}:\)) was added"
    ),
    BreakingChangeType.DIRECTIVE_REPEATABLE_REMOVED: (
        rf"^Repeatable flag was removed from ({_DIRECTIVE})"
    ),
    BreakingChangeType.DIRECTIVE_LOCATION_REMOVED: rf"^{_NAME} was removed from ({_DIRECTIVE})",
}

# The applied directives that say who may read or call a field (app/graphql/directives.py,
# app/graphql/account/mutations.py). graphql-core does not compare applied directives, so
# a field whose requirement became stricter is found here. (@requiresMembership, any
# member, is the weakest requirement: moving to it loosens a field.)
ACCESS_DIRECTIVES = ("requiresPermission", "requiresUserToken")

# Removals that the deprecation policy wants announced with @deprecated first (a type
# cannot carry @deprecated in GraphQL; these can).
_DEPRECATABLE = {
    BreakingChangeType.FIELD_REMOVED,
    BreakingChangeType.ARG_REMOVED,
    BreakingChangeType.VALUE_REMOVED_FROM_ENUM,
}


@dataclass(frozen=True)
class Breaking:
    coordinate: str
    description: str
    # A field, argument or enum value removed without carrying @deprecated in the base:
    # the policy's first step was skipped (reported, not refused: see the policy).
    not_deprecated_first: bool = False


@dataclass(frozen=True)
class Report:
    breaking: list[Breaking]
    dangerous: list[str]  # descriptions

    def unlisted(self, listed: set[str]) -> list[Breaking]:
        return [b for b in self.breaking if b.coordinate not in listed]


class BaseError(Exception):
    """The schema to compare with cannot be read."""


def coordinate(kind: BreakingChangeType, description: str) -> str:
    match = re.search(_COORDINATE[kind], description)
    if match is None:
        raise ValueError(f"no schema coordinate in graphql-core's {kind.name}: {description!r}")
    return match.group(1)


def _was_deprecated(old: GraphQLSchema, coord: str) -> bool:
    """Whether the element at ``coord`` (`Type.field`, `Input.field`, `Type.field(arg:)`,
    `Enum.VALUE`) carried @deprecated in ``old``."""
    match = re.fullmatch(rf"({_NAME})\.({_NAME})(?:\(({_NAME}):\))?", coord)
    if match is None:
        return False
    type_name, member, argument = match.groups()
    named = old.get_type(type_name)
    if is_enum_type(named):
        value = named.values.get(member)
        return value is not None and value.deprecation_reason is not None
    fields = getattr(named, "fields", None) or {}
    field = fields.get(member)
    if field is None:
        return False
    if argument is not None:
        arg = field.args.get(argument)
        return arg is not None and arg.deprecation_reason is not None
    return field.deprecation_reason is not None


def _requirements(field: GraphQLField) -> frozenset[str]:
    directives = (field.ast_node.directives if field.ast_node else None) or ()
    return frozenset(print_ast(d) for d in directives if d.name.value in ACCESS_DIRECTIVES)


def stricter_access(old: GraphQLSchema, new: GraphQLSchema) -> list[Breaking]:
    """Fields of both schemas whose new access requirement the old one did not have: a
    caller (an API key in particular) that could use the field before may be refused."""
    found = []
    for name, new_type in new.type_map.items():
        old_type = old.type_map.get(name)
        if not (is_object_type(new_type) or is_interface_type(new_type)) or old_type is None:
            continue
        old_fields = getattr(old_type, "fields", None) or {}
        for field_name, field in new_type.fields.items():
            if field_name not in old_fields:
                continue
            added = _requirements(field) - _requirements(old_fields[field_name])
            if added:
                found.append(
                    Breaking(
                        f"{name}.{field_name}",
                        f"Field {name}.{field_name} now requires {', '.join(sorted(added))}.",
                    )
                )
    return found


def compare(old_sdl: str, new_sdl: str) -> Report:
    old, new = build_schema(old_sdl), build_schema(new_sdl)
    breaking, dangerous = [], []
    for change in find_schema_changes(old, new):
        if isinstance(change.type, BreakingChangeType):
            coord = coordinate(change.type, change.description)
            skipped = change.type in _DEPRECATABLE and not _was_deprecated(old, coord)
            breaking.append(Breaking(coord, change.description, skipped))
        elif isinstance(change.type, DangerousChangeType):
            dangerous.append(change.description)
    return Report(breaking + stricter_access(old, new), dangerous)


def unreleased(changelog: str) -> str:
    """The text of the ``## Unreleased`` section (up to the next ``## `` heading)."""
    match = re.search(r"^## Unreleased[^\n]*\n(.*?)(?=^## |\Z)", changelog, re.M | re.S)
    return match.group(1) if match else ""


def listed_coordinates(changelog: str) -> set[str]:
    """Every backticked span in a **Breaking** entry of the Unreleased section. An entry
    is a top-level list item (``- `` at the start of a line) with its continuation lines."""
    entries = re.split(r"^(?=- |#)", unreleased(changelog), flags=re.M)
    return {
        span.strip()
        for entry in entries
        if entry.startswith("- ") and "**Breaking" in entry
        for span in re.findall(r"`([^`]+)`", entry)
    }


# --- the base --------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (git with our own arguments)
        ["git", "-C", str(repo), *args],  # noqa: S607 (git from PATH)
        capture_output=True,
        text=True,
        check=False,
    )


def _resolves(repo: Path, rev: str) -> bool:
    return _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").returncode == 0


def default_base(repo: Path) -> tuple[str | None, str]:
    """(base commit, how it was chosen); the commit is None when HEAD is main's first
    commit (nothing came before it)."""
    if _git(repo, "rev-parse", "--is-inside-work-tree").stdout.strip() != "true":
        raise BaseError(f"{repo} is not a git work tree; pass --base REV")
    main = next((ref for ref in MAIN_REFS if _resolves(repo, ref)), None)
    if main is None:
        raise BaseError("neither origin/main nor main exists to compare with; pass --base REV")
    if _git(repo, "merge-base", "--is-ancestor", "HEAD", main).returncode == 0:
        if _resolves(repo, "HEAD^"):
            return _sha(repo, "HEAD^"), f"HEAD is on {main}: its first parent"
        if _git(repo, "rev-parse", "--is-shallow-repository").stdout.strip() == "true":
            raise BaseError(
                "a shallow clone has no parent of HEAD to compare with: "
                "`git fetch --unshallow` (CI needs main's history) or pass --base REV"
            )
        return None, f"HEAD is {main}'s first commit"
    fork = _git(repo, "merge-base", "HEAD", main)
    if fork.returncode != 0:
        raise BaseError(
            f"HEAD shares no history with {main} (a shallow clone?): "
            "`git fetch --unshallow` or pass --base REV"
        )
    return fork.stdout.strip(), f"git merge-base HEAD {main}"


def _sha(repo: Path, rev: str) -> str:
    done = _git(repo, "rev-parse", "--verify", f"{rev}^{{commit}}")
    if done.returncode != 0:
        raise BaseError(f"{rev} is not a commit here: {done.stderr.strip()}")
    return done.stdout.strip()


def schema_at(repo: Path, commit: str) -> str | None:
    """schema.graphql as committed in ``commit``; None when the file did not exist."""
    if _git(repo, "cat-file", "-e", f"{commit}:{SCHEMA_FILE}").returncode != 0:
        return None
    return _git(repo, "show", f"{commit}:{SCHEMA_FILE}").stdout


# --- the command -----------------------------------------------------------------------


def check(repo: Path, base: str | None) -> int:
    if base:
        commit: str | None = _sha(repo, base)
        how = f"--base {base}"
    else:
        commit, how = default_base(repo)
    if commit is None:
        print(f"schema check: nothing to compare with ({how})")
        return 0
    old_sdl = schema_at(repo, commit)
    if old_sdl is None:
        print(f"schema check: {commit[:12]} has no {SCHEMA_FILE} ({how}); nothing to compare")
        return 0
    report = compare(old_sdl, (repo / SCHEMA_FILE).read_text())
    listed = listed_coordinates((repo / CHANGELOG_FILE).read_text())
    missing = report.unlisted(listed)
    print(
        f"schema check: {SCHEMA_FILE} against {commit[:12]} ({how}): "
        f"{len(report.breaking)} breaking ({len(missing)} not in CHANGELOG.md), "
        f"{len(report.dangerous)} dangerous"
    )
    for b in report.breaking:
        state = "listed" if b not in missing else "NOT LISTED"
        note = " (removed without @deprecated first)" if b.not_deprecated_first else ""
        print(f"  breaking, {state}: `{b.coordinate}`: {b.description}{note}")
    for description in report.dangerous:
        print(f"  warning (dangerous): {description}")
    if missing:
        print(
            "Name each NOT LISTED coordinate in backticks in a **Breaking** entry of "
            "CHANGELOG.md's Unreleased section, saying what a client must change "
            "(docs/deprecation.md)."
        )
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.schema_check",
        description="Fail on a breaking change to schema.graphql that CHANGELOG.md does not list.",
    )
    parser.add_argument(
        "--base",
        default=os.environ.get("SCHEMA_BASE") or None,
        help="the revision to compare with (default: the previous main; env SCHEMA_BASE)",
    )
    parser.add_argument("--repo", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        return check(args.repo, args.base)
    except BaseError as exc:
        print(f"schema check: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
