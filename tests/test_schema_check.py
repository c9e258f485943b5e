"""The breaking-change check (scripts/schema_check.py): every kind of breaking change
graphql-core reports, and a field's access requirement made stricter, is named by its
schema coordinate, a change passes only when a
**Breaking** entry of CHANGELOG.md's Unreleased section names it, and the base is the
previous main, in real git repositories (a branch, main after a merge, a clone, a shallow
clone)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from graphql.utilities.find_schema_changes import BreakingChangeType as Kind

from scripts.schema_check import compare, listed_coordinates, main

QUERY = "type Query { a: Int }\n"

# (kind, old SDL, new SDL, the coordinate a CHANGELOG entry must name)
PAIRS = [
    (Kind.TYPE_REMOVED, QUERY + "type Gone { x: Int }", QUERY, "Gone"),
    (Kind.TYPE_CHANGED_KIND, QUERY + "type T { x: Int }", QUERY + "input T { x: Int }", "T"),
    (
        Kind.TYPE_REMOVED_FROM_UNION,
        QUERY + "type A { x: Int } type B { x: Int } union U = A | B",
        QUERY + "type A { x: Int } type B { x: Int } union U = A",
        "U",
    ),
    (Kind.VALUE_REMOVED_FROM_ENUM, QUERY + "enum E { A B }", QUERY + "enum E { A }", "E.B"),
    (
        Kind.REQUIRED_INPUT_FIELD_ADDED,
        QUERY + "input I { a: Int }",
        QUERY + "input I { a: Int b: Int! }",
        "I.b",
    ),
    (
        Kind.IMPLEMENTED_INTERFACE_REMOVED,
        QUERY + "interface N { id: ID } type T implements N { id: ID }",
        QUERY + "interface N { id: ID } type T { id: ID }",
        "T",
    ),
    (Kind.FIELD_REMOVED, "type Query { a: Int b: Int }", QUERY, "Query.b"),
    (Kind.FIELD_CHANGED_KIND, QUERY, "type Query { a: [Int] }", "Query.a"),
    (Kind.REQUIRED_ARG_ADDED, QUERY, "type Query { a(x: Int!): Int }", "Query.a(x:)"),
    (Kind.ARG_REMOVED, "type Query { a(x: Int): Int }", QUERY, "Query.a(x:)"),
    (
        Kind.ARG_CHANGED_KIND,
        "type Query { a(x: Int): Int }",
        "type Query { a(x: String): Int }",
        "Query.a(x:)",
    ),
    (Kind.DIRECTIVE_REMOVED, QUERY + "directive @d on FIELD_DEFINITION", QUERY, "@d"),
    (
        Kind.DIRECTIVE_ARG_REMOVED,
        QUERY + "directive @d(x: Int) on FIELD_DEFINITION",
        QUERY + "directive @d on FIELD_DEFINITION",
        "@d(x:)",
    ),
    (
        Kind.REQUIRED_DIRECTIVE_ARG_ADDED,
        QUERY + "directive @d on FIELD_DEFINITION",
        QUERY + "directive @d(x: Int!) on FIELD_DEFINITION",
        "@d(x:)",
    ),
    (
        Kind.DIRECTIVE_REPEATABLE_REMOVED,
        QUERY + "directive @d repeatable on FIELD_DEFINITION",
        QUERY + "directive @d on FIELD_DEFINITION",
        "@d",
    ),
    (
        Kind.DIRECTIVE_LOCATION_REMOVED,
        QUERY + "directive @d on FIELD_DEFINITION | OBJECT",
        QUERY + "directive @d on FIELD_DEFINITION",
        "@d",
    ),
]


def test_the_pairs_cover_every_kind_of_breaking_change() -> None:
    assert {kind for kind, *_ in PAIRS} == set(Kind)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [pair[1:] for pair in PAIRS],
    ids=[pair[0].name for pair in PAIRS],
)
def test_each_kind_of_breaking_change_is_named_by_its_coordinate(
    old: str, new: str, expected: str
) -> None:
    assert [b.coordinate for b in compare(old, new).breaking] == [expected]


ACCESS = (
    "directive @requiresPermission(permission: String!) on FIELD_DEFINITION\n"
    "directive @requiresMembership on FIELD_DEFINITION\n"
    "directive @requiresUserToken on FIELD_DEFINITION\n"
)


def test_a_field_whose_access_requirement_became_stricter_is_breaking() -> None:
    old = ACCESS + (
        "type Query {\n"
        '  a: Int @requiresPermission(permission: "x:read:all")\n'
        "  b: Int @requiresMembership\n"
        '  c: Int @requiresPermission(permission: "x:read:all")\n'
        "  d: Int\n"
        '  e: Int @requiresPermission(permission: "x:read:all")\n'
        "}"
    )
    new = ACCESS + (
        "type Query {\n"
        '  a: Int @requiresPermission(permission: "x:update:all")\n'
        '  b: Int @requiresPermission(permission: "x:read:all")\n'
        "  c: Int @requiresMembership\n"
        "  d: Int @requiresUserToken\n"
        '  e: Int @requiresPermission(permission: "x:read:all")\n'
        "}"
    )
    assert [(b.coordinate, b.description) for b in compare(old, new).breaking] == [
        (
            "Query.a",
            'Field Query.a now requires @requiresPermission(permission: "x:update:all").',
        ),
        ("Query.b", 'Field Query.b now requires @requiresPermission(permission: "x:read:all").'),
        ("Query.d", "Field Query.d now requires @requiresUserToken."),
    ]  # c is looser (any member may read it), e unchanged


def changelog(unreleased: str, released: str = "") -> str:
    return (
        "# Changelog\n\nIntro naming `Query.intro` in **Breaking** prose.\n\n"
        f"## Unreleased\n\n### Changed\n\n{unreleased}\n"
        f"## 2026-11-01\n\n### Changed\n\n{released}\n"
    )


def test_only_backticked_coordinates_of_unreleased_breaking_entries_count() -> None:
    text = changelog(
        "- **Breaking: `Query.b` is gone.** Read `Query.a`\n  and `E.B` instead.\n"
        "- `Query.c` gained an argument (not breaking).\n"
        "### Deprecated\n\n- **Breaking.** `Query.d(x:)`\n",
        released="- **Breaking: `Query.old` was removed.**\n",
    )
    assert listed_coordinates(text) == {"Query.b", "Query.a", "E.B", "Query.d(x:)"}


def test_a_listed_change_passes_and_an_unlisted_one_is_reported() -> None:
    report = compare(
        "type Query { a(x: Int): Int b: Int c: Int }\nenum E { A B }",
        "type Query { a: Int c: String }\nenum E { A }",
    )
    assert sorted(b.coordinate for b in report.breaking) == [
        "E.B",
        "Query.a(x:)",
        "Query.b",
        "Query.c",
    ]
    listed = listed_coordinates(
        changelog("- **Breaking:** `Query.b` and `E.B` are gone; `Query.c` is a String.\n")
    )
    assert [b.coordinate for b in report.unlisted(listed)] == ["Query.a(x:)"]


def test_dangerous_changes_are_warnings_not_breaking() -> None:
    report = compare(QUERY + "enum E { A }", QUERY + "enum E { A B }")
    assert report.breaking == []
    assert report.dangerous == ["Enum value E.B was added."]


def test_a_removal_without_deprecation_first_is_marked() -> None:
    report = compare(
        'type Query { a(x: Int, y: Int @deprecated(reason: "Unused.")): Int\n'
        '  b: Int @deprecated(reason: "Use a.") c: Int }\n'
        'enum E { A B @deprecated(reason: "Gone.") C }\n'
        'input I { a: Int b: Int @deprecated(reason: "Ignored.") c: Int }',
        "type Query { a: Int }\nenum E { A }\ninput I { a: Int }",
    )
    skipped = {b.coordinate: b.not_deprecated_first for b in report.breaking}
    assert skipped == {
        "Query.a(x:)": True,
        "Query.a(y:)": False,
        "Query.b": False,
        "Query.c": True,
        "E.B": False,
        "E.C": True,
        "I.b": False,
        "I.c": True,
    }


def test_the_billing_rename_is_three_breaking_changes() -> None:
    old = (
        "type Query { workspace: Workspace }\n"
        "type Workspace { subscription: Subscription }\n"
        "type Payload { subscription: Subscription }\n"
        "type Subscription { plan: String }\n"
    )
    new = "schema { query: Query }\n" + old.replace("Subscription", "BillingSubscription")
    # Read from the old file, a type named Subscription was the subscription root.
    assert sorted(b.coordinate for b in compare(old, new).breaking) == [
        "Payload.subscription",
        "Subscription",
        "Workspace.subscription",
    ]


# --- the base, in real repositories -----------------------------------------------------------


class Repo:
    def __init__(self, path: Path) -> None:
        self.path = path

    def git(self, *args: str) -> str:
        return subprocess.run(  # noqa: S603 (fixed argv)
            ["git", "-C", str(self.path), *args],  # noqa: S607 (git from PATH)
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    def commit(self, message: str, schema: str | None = None, entry: str | None = None) -> str:
        if schema is not None:
            (self.path / "schema.graphql").write_text(schema)
        if entry is not None:
            (self.path / "CHANGELOG.md").write_text(changelog(entry))
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    monkeypatch.delenv("SCHEMA_BASE", raising=False)
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Schema Check")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "check@example.test")
    path = tmp_path / "repo"
    path.mkdir()
    r = Repo(path)
    r.git("init", "-q", "-b", "main")
    r.commit("first", schema="type Query { a: Int b: Int }\n", entry="")
    return r


def run(path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["--repo", str(path), *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_branch_is_compared_with_the_main_it_started_from(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    fork = repo.git("rev-parse", "HEAD")
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("drop b", schema="type Query { a: Int }\n")
    # main moves on meanwhile: its new field is not the branch's to list.
    repo.git("checkout", "-q", "main")
    repo.commit("add c", schema="type Query { a: Int b: Int c: Int }\n")
    repo.git("checkout", "-q", "feature")

    code, out = run(repo.path, capsys)
    assert code == 1
    assert f"against {fork[:12]} (git merge-base HEAD main)" in out
    assert "breaking, NOT LISTED: `Query.b`" in out
    assert "Query.c" not in out

    repo.commit("list it", entry="- **Breaking: `Query.b` is removed.** Read `a`.\n")
    code, out = run(repo.path, capsys)
    assert (code, "breaking, listed: `Query.b`" in out) == (0, True)


def test_on_main_the_base_is_the_first_parent(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("drop b", schema="type Query { a: Int }\n")
    repo.git("checkout", "-q", "main")
    previous_main = repo.commit("add c", schema="type Query { a: Int b: Int c: Int }\n")
    repo.git("merge", "-q", "--no-ff", "-X", "theirs", "-m", "merge feature", "feature")

    code, out = run(repo.path, capsys)
    assert f"against {previous_main[:12]} (HEAD is on main: its first parent)" in out
    assert code == 1  # b dropped, and main's c lost in the merge: neither listed
    assert "NOT LISTED: `Query.b`" in out and "NOT LISTED: `Query.c`" in out

    repo.commit("fix", schema="type Query { a: Int c: Int }\n", entry="- **Breaking:** `Query.b`\n")
    code, out = run(repo.path, capsys)
    assert code == 0, out


def test_a_clean_clone_compares_with_origin_main(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    previous = repo.git("rev-parse", "HEAD")
    repo.commit("drop b", schema="type Query { a: Int }\n")
    clone = tmp_path / "clone"
    subprocess.run(  # noqa: S603 (fixed argv)
        ["git", "clone", "-q", str(repo.path), str(clone)],  # noqa: S607 (git from PATH)
        check=True,
    )
    code, out = run(clone, capsys)
    assert code == 1
    assert f"against {previous[:12]} (HEAD is on origin/main: its first parent)" in out


def test_a_shallow_clone_is_refused_rather_than_passed(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit("drop b", schema="type Query { a: Int }\n")
    clone = tmp_path / "shallow"
    subprocess.run(  # noqa: S603 (fixed argv)
        ["git", "clone", "-q", "--depth", "1", f"file://{repo.path}", str(clone)],  # noqa: S607
        check=True,
    )
    code, out = run(clone, capsys)
    assert code == 2
    assert "git fetch --unshallow" in out


def test_an_explicit_base_and_a_base_without_the_file(
    repo: Repo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo.path / "schema.graphql").unlink()
    before_schema = repo.commit("no schema yet")
    repo.commit("schema again", schema="type Query { a: Int }\n")
    code, out = run(repo.path, capsys, "--base", before_schema)
    assert (code, f"{before_schema[:12]} has no schema.graphql" in out) == (0, True)

    monkeypatch.setenv("SCHEMA_BASE", "main~2")  # the first commit: a and b
    code, out = run(repo.path, capsys)
    assert code == 1
    assert "(--base main~2)" in out and "NOT LISTED: `Query.b`" in out
