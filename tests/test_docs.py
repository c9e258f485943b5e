"""The docs cannot drift: every example in README.md and docs/*.md that shows a GraphQL
request and its response is sent to a live gateway over the demo data and must get that
response, and no relative link (file or heading) in them is dead.

What counts as an example (write new ones this way and they are checked too):

- a ```graphql block, then a paragraph saying ``Sent as **EMAIL**`` (optionally ``with
  variables `{…JSON…}```), then a ```json block: the response; or
- a ```bash block with ``python -m app token EMAIL``, a ``curl … -d '{…}'`` and the
  response as ``#`` comment lines after it (the README's first query).

Examples run in the order a reader meets them (README.md, then docs/ by name) on one
freshly seeded database, against ``python -m app serve`` keyed with the development
secret (so IDs and cursors are the ones a fresh ``scripts/dev`` prints). ``extensions``
is compared only when the example shows it. A value that changes from run to run (a
timestamp set when the demo was seeded, what is left of a rate-limit budget) is named
in an HTML comment on the line just above the example's request block::

    <!-- per-run: joinedAt, currentlyAvailable -->

and any field of that name is then compared by type only (a string for a string).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.tokens import issue_user_token
from app.config import DEVELOPMENT_JWT_SECRET, Settings
from app.domain.users.repository import user_by_email
from tests.edge.live import gateway_process

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
SENT_AS = re.compile(r"Sent as \*\*([^*\s]+)\*\*(?: with variables `([^`]+)`)?")
PER_RUN = re.compile(r"<!--\s*per-run:\s*(.*?)\s*-->\s*$")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


@dataclass
class Example:
    where: str  # file:line of the request block
    email: str
    body: dict[str, Any]
    expected: dict[str, Any]
    per_run: set[str] = field(default_factory=set)


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _per_run(text: str, offset: int) -> set[str]:
    before = text[:offset].rstrip("\n").rsplit("\n", 1)[-1]
    match = PER_RUN.search(before)
    return {name.strip() for name in match.group(1).split(",")} if match else set()


def examples(path: Path) -> list[Example]:
    text = path.read_text(encoding="utf-8")
    name = path.relative_to(ROOT).as_posix()
    blocks = list(FENCE.finditer(text))
    found = []
    for i, block in enumerate(blocks):
        where = f"{name}:{_line(text, block.start())}"
        if block.group(1) == "graphql" and i + 1 < len(blocks):
            between = text[block.end() : blocks[i + 1].start()]
            sent = SENT_AS.search(between)
            if sent is None or blocks[i + 1].group(1) != "json":
                continue
            body: dict[str, Any] = {"query": block.group(2)}
            if sent.group(2):
                body["variables"] = json.loads(sent.group(2))
            expected = json.loads(blocks[i + 1].group(2))
        elif block.group(1) == "bash" and "curl" in block.group(2):
            script = block.group(2)
            token = re.search(r"python -m app token (\S+?)[\s|)]", script)
            data = re.search(r"-d '([^']*)'", script)
            if token is None or data is None:
                continue
            after = script[data.end() :].splitlines()[1:]
            shown = [line.lstrip()[1:] for line in after if line.lstrip().startswith("#")]
            if not shown:
                continue
            sent, body, expected = token, json.loads(data.group(1)), json.loads("".join(shown))
        else:
            continue
        found.append(Example(where, sent.group(1), body, expected, _per_run(text, block.start())))
    return found


def mismatches(expected: Any, actual: Any, per_run: set[str], at: str = "") -> list[str]:
    if isinstance(expected, dict) and isinstance(actual, dict):
        if expected.keys() != actual.keys():
            return [f"{at or '.'}: keys {sorted(actual)} where the doc shows {sorted(expected)}"]
        out = []
        for key, value in expected.items():
            if key in per_run:
                if type(value) is not type(actual[key]):
                    out.append(f"{at}.{key}: {actual[key]!r} is not of the doc's type")
            else:
                out += mismatches(value, actual[key], per_run, f"{at}.{key}")
        return out
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [m for i, pair in enumerate(zip(expected, actual, strict=True))
                for m in mismatches(*pair, per_run, f"{at}[{i}]")]  # fmt: skip
    return [] if expected == actual else [f"{at or '.'}: {actual!r}, the doc shows {expected!r}"]


def test_the_docs_have_examples_to_check() -> None:
    """The parser still recognizes the docs' examples (a change of style would
    otherwise leave them unchecked without a word)."""
    found = [e for path in DOCS for e in examples(path)]
    assert len(found) >= 14
    assert {e.where.split(":")[0] for e in found} >= {"README.md", "docs/queries.md"}


@pytest.mark.slow
async def test_every_documented_response_is_what_the_gateway_answers(
    settings: Settings, session: AsyncSession, tmp_path: Path
) -> None:
    tokens: dict[str, str] = {}
    for email in {e.email for path in DOCS for e in examples(path)}:
        user = await user_by_email(session, email)
        assert user is not None and user.id is not None, f"the docs sign in as {email}"
        tokens[email] = issue_user_token(settings, user.id)

    problems = []
    # IDs and cursors as a fresh `scripts/dev` prints them: keyed with the dev secret.
    with (
        gateway_process(
            settings, {"ID_SECRET": DEVELOPMENT_JWT_SECRET}, tmp_path / "gw.log"
        ) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        for path in DOCS:
            for example in examples(path):
                answer = _send(http, tokens[example.email], example.body)
                actual = answer.json()
                if "extensions" not in example.expected:
                    actual.get("extensions", {}).pop("cost", None)
                    if not actual.get("extensions", True):
                        del actual["extensions"]
                problems += [
                    f"{example.where} ({example.email}): {m}"
                    for m in mismatches(example.expected, actual, example.per_run)
                ]
    assert problems == []


def _send(http: httpx.Client, token: str, body: dict[str, Any]) -> httpx.Response:
    """POST as a reader would, waiting out a Retry-After (the budget is the default)."""
    headers = {"Authorization": f"Bearer {token}"}
    answer = http.post("/graphql", json=body, headers=headers)
    if answer.status_code == 429 and int(answer.headers["retry-after"]) <= 20:
        time.sleep(int(answer.headers["retry-after"]))
        answer = http.post("/graphql", json=body, headers=headers)
    return answer


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.M):
        slug = _slug(heading)
        anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_relative_link_is_dead(doc: Path) -> None:
    text = FENCE.sub("", doc.read_text(encoding="utf-8"))
    dead = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        resolved = (doc.parent / file).resolve() if file else doc
        if not resolved.exists():
            dead.append(f"{target}: no file {resolved.relative_to(ROOT)}")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            dead.append(f"{target}: no heading #{anchor} in {resolved.relative_to(ROOT)}")
    assert dead == []
