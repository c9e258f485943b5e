"""The benchmark database: built through the app's own migrations, then filled by a
deterministic generator (fixed seed, fixed clock) with COPY.

Shape at scale N (the issue's "realistic" dataset, times N):

- 200·N workspaces and 20,000·N users; each user belongs to 0-3 workspaces (weights
  25/55/15/5 %, so about 100 members per workspace on average; a workspace's size is
  proportional to a weight drawn from [0.5, 1.5], so sizes range from about 45 to 160);
- per workspace: built-in Admin and Member roles, 2-3 custom roles with their
  ``role_permissions``; 5 teams; every member in 1 (70 %) or 2 teams; the first three
  members are Admins, ~3 % of the others are deactivated;
- 50 conversations per workspace with 2-5 participants (host included, ~15 % guests
  without an account), a summary insight, 0-2 action items and a transcript; at scale
  >= 10 every 100th workspace has 1,000 conversations instead, so that a page after the
  500th conversation exists;
- a subscription, intelligence settings, 2-3 AI providers and 2-4 integrations each.

Membership and conversation ids are assigned after a global shuffle, so the rows of one
workspace are spread over the table as in a real, long-lived database (no accidental
physical clustering that would flatter a scan).

A database is reused when its comment says it was built by this generator version, at
this scale, at the current alembic head; otherwise it is dropped and rebuilt.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from benchmark.config import JWT_SECRET, ROOT, BenchConfig

SEED = 20261127
BASE = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

MEMBER_PERMISSIONS = (
    "organization:read:all",
    "members:read:all",
    "teams:read:all",
    "roles:read:all",
    "integrations:read:all",
    "conversations:read:team",
    "conversations:share:own",
    "insights:read:team",
)
CUSTOM_ROLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Billing Manager", ("billing:*:all", *MEMBER_PERMISSIONS)),
    (
        "Team Lead",
        (
            *MEMBER_PERMISSIONS,
            "conversations:read:all",
            "insights:read:all",
            "teams:update:all",
            "members:update:all",
        ),
    ),
    (
        "Analyst",
        (
            "organization:read:all",
            "members:read:all",
            "teams:read:all",
            "conversations:read:all",
            "insights:read:all",
            "intelligence:read:all",
        ),
    ),
)
TEAMS = ("Sales", "Support", "Engineering", "Customer Success", "Marketing")
FIRST = [
    "Ada",
    "Ben",
    "Cy",
    "Dee",
    "Eve",
    "Finn",
    "Gus",
    "Hana",
    "Ivo",
    "Jay",
    "Kai",
    "Lea",
    "Max",
    "Nia",
    "Oto",
    "Pia",
    "Quin",
    "Rae",
    "Sol",
    "Tia",
    "Uma",
    "Vic",
    "Wes",
    "Xia",
    "Yan",
    "Zoe",
    "Amir",
    "Bea",
    "Cato",
    "Dara",
    "Elio",
    "Fay",
    "Gil",
    "Hugo",
    "Ines",
    "Jon",
    "Kira",
    "Luis",
    "Mia",
    "Noor",
]
LAST = [
    "Abara",
    "Baker",
    "Chen",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quinn",
    "Rossi",
    "Silva",
    "Tanaka",
    "Ueda",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zhou",
]
WORDS = [
    "discovery",
    "renewal",
    "pipeline",
    "onboarding",
    "escalation",
    "roadmap",
    "pricing",
    "kickoff",
    "retro",
    "standup",
    "review",
    "planning",
    "demo",
    "handoff",
    "forecast",
    "security",
    "migration",
    "integration",
    "quarterly",
    "weekly",
    "partner",
    "vendor",
    "hiring",
    "launch",
    "support",
]
PROVIDERS = {
    "anthropic": ["claude-sonnet-4", "claude-haiku-4"],
    "google": ["gemini-2.5-pro", "gemini-2.5-flash"],
    "openai": ["gpt-4o", "gpt-4o-mini"],
}
INTEGRATIONS = ("gong", "hubspot", "salesforce", "slack", "teams", "zoom")
PLANS = ("TEAM", "BUSINESS", "ENTERPRISE")
HANDBOOK = (
    "## How we meet\n\nEvery customer call is recorded with consent and summarised within the hour.",
    "## Security\n\nNever paste credentials into a meeting chat. Report incidents to #security.",
    "## Sharing\n\nShare links point at a conversation; opening one still needs permission.",
    "## Teams\n\nEach team owns its pipeline review; leads keep the action items moving.",
    "## Onboarding\n\nNew members shadow three calls before hosting their own.",
)


def generator_version() -> str:
    """Changes whenever this file does: the data it makes may have changed."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]


def head_revision() -> str:
    from app.db.migrations import head_revision as head

    return head()


def stamp(scale: int) -> str:
    return f"harmony-bench scale={scale} head={head_revision()} generator={generator_version()}"


@dataclass
class Tables:
    """Rows per table, in load order (parents before children)."""

    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)

    def table(self, name: str, *columns: str) -> list[tuple[Any, ...]]:
        self.columns[name] = columns
        return self.rows.setdefault(name, [])


def _weighted_distinct(rng: random.Random, cum: Sequence[float], k: int) -> list[int]:
    chosen: list[int] = []
    while len(chosen) < k:
        (j,) = rng.choices(range(len(cum)), cum_weights=cum, k=1)
        if j not in chosen:
            chosen.append(j)
    return chosen


def generate(scale: int) -> Tables:
    rng = random.Random(SEED + scale)  # noqa: S311 (reproducible data, not security)
    t = Tables()
    n_ws, n_users = 200 * scale, 20_000 * scale

    users = t.table("users", "id", "email", "name", "avatar_url", "status", "created_at")
    names: dict[int, str] = {}
    emails: dict[int, str] = {}
    for uid in range(1, n_users + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        names[uid] = f"{first} {last}"
        emails[uid] = f"{first.lower()}.{last.lower()}.{uid}@example{uid % 97}.test"
        avatar = f"https://avatars.harmony.test/{uid}.png" if uid % 3 else None
        created = BASE - timedelta(days=400 + uid % 700, seconds=uid)
        users.append((uid, emails[uid], names[uid], avatar, "ACTIVE", created))

    workspaces = t.table(
        "workspaces",
        "id",
        "slug",
        "name",
        "logo_url",
        "handbook",
        "brand_primary_color",
        "brand_accent_color",
        "created_at",
    )
    for w in range(1, n_ws + 1):
        handbook = f"# Workspace {w} handbook\n\n" + "\n\n".join(
            rng.sample(HANDBOOK, k=rng.randint(3, 5))
        )
        workspaces.append(
            (
                w,
                f"bench-{w:05d}",
                f"{rng.choice(WORDS).title()} {rng.choice(LAST)} {w}",
                f"https://assets.harmony.test/logos/{w}.png" if w % 5 else None,
                handbook,
                f"#{rng.randrange(0x1000000):06X}",
                f"#{rng.randrange(0x1000000):06X}",
                BASE - timedelta(days=800 - w % 365),
            )
        )

    # Memberships: (workspace, user) pairs, ids assigned after a global shuffle.
    weights = [rng.uniform(0.5, 1.5) for _ in range(n_ws)]
    cum = []
    total = 0.0
    for wgt in weights:
        total += wgt
        cum.append(total)
    pairs: list[tuple[int, int]] = []
    for uid in range(1, n_users + 1):
        (k,) = rng.choices((0, 1, 2, 3), weights=(25, 55, 15, 5), k=1)
        pairs.extend((j + 1, uid) for j in _weighted_distinct(rng, cum, k))
    rng.shuffle(pairs)
    members_of: dict[int, list[tuple[int, int]]] = {w: [] for w in range(1, n_ws + 1)}
    for mid, (w, uid) in enumerate(pairs, start=1):
        members_of[w].append((mid, uid))

    roles = t.table("roles", "id", "workspace_id", "name", "description", "builtin", "created_at")
    role_perms = t.table("role_permissions", "role_id", "permission", "workspace_id")
    teams = t.table("teams", "id", "workspace_id", "name", "description", "created_at")
    members = t.table("members", "id", "workspace_id", "user_id", "role_id", "status", "joined_at")
    team_members = t.table("team_members", "team_id", "member_id", "workspace_id", "added_at")
    subs = t.table(
        "subscriptions",
        "workspace_id",
        "plan",
        "status",
        "seats",
        "current_period_end",
        "created_at",
    )
    intel = t.table("intelligence_settings", "workspace_id", "default_model", "updated_at")
    ai = t.table("ai_providers", "id", "workspace_id", "provider", "enabled", "models")
    integ = t.table(
        "integrations",
        "id",
        "workspace_id",
        "provider",
        "status",
        "connected_at",
        "connected_by_user_id",
    )
    role_id = team_id = ai_id = integ_id = 0
    # Per workspace: the member rows (member id, user id, team ids, active) for conversations.
    roster: dict[int, list[tuple[int, int, tuple[int, ...]]]] = {}
    for w in range(1, n_ws + 1):
        created = BASE - timedelta(days=800 - w % 365)
        role_id += 1
        admin = role_id
        roles.append((admin, w, "Admin", "Every standard permission.", "ADMIN", created))
        role_id += 1
        member_role = role_id
        roles.append((member_role, w, "Member", "Reads the workspace.", "MEMBER", created))
        role_perms.extend((member_role, p, w) for p in MEMBER_PERMISSIONS)
        custom: list[int] = []
        for name, perms in CUSTOM_ROLES[: 2 + w % 2]:
            role_id += 1
            custom.append(role_id)
            roles.append((role_id, w, name, f"{name} (custom)", None, created))
            role_perms.extend((role_id, p, w) for p in perms)
        team_ids = []
        for name in TEAMS:
            team_id += 1
            team_ids.append(team_id)
            teams.append((team_id, w, name, f"The {name} team", created))

        roster[w] = []
        admin_users: list[int] = []
        for rank, (mid, uid) in enumerate(sorted(members_of[w])):
            active = True
            if rank < 3:
                rid = admin
                admin_users.append(uid)
            else:
                r = rng.random()
                rid = member_role if r < 0.8 else custom[int((r - 0.8) / 0.2 * len(custom))]
                active = rng.random() >= 0.03
            joined = created + timedelta(days=1 + rank, seconds=mid % 86_400)
            members.append((mid, w, uid, rid, "ACTIVE" if active else "DEACTIVATED", joined))
            mine = tuple(sorted(rng.sample(team_ids, k=1 if rng.random() < 0.7 else 2)))
            team_members.extend((tid, mid, w, joined) for tid in mine)
            if active:
                roster[w].append((mid, uid, mine))

        n_members = len(members_of[w])
        subs.append(
            (
                w,
                PLANS[w % 3],
                "TRIALING" if w % 17 == 0 else "ACTIVE",
                n_members + 10,
                BASE + timedelta(days=30),
                created,
            )
        )
        chosen = sorted(rng.sample(sorted(PROVIDERS), k=rng.randint(2, 3)))
        for provider in chosen:
            ai_id += 1
            models = orjson.dumps(PROVIDERS[provider]).decode()
            ai.append((ai_id, w, provider, rng.random() < 0.9, models))
        intel.append((w, PROVIDERS[chosen[0]][0], created))
        for provider in sorted(rng.sample(INTEGRATIONS, k=rng.randint(2, 4))):
            integ_id += 1
            connected = created + timedelta(days=rng.randint(1, 300))
            integ.append((integ_id, w, provider, "CONNECTED", connected, admin_users[0]))

    # Conversations: ids assigned after a global shuffle too.
    plan: list[int] = []
    for w in range(1, n_ws + 1):
        count = 1_000 if scale >= 10 and w % 100 == 1 else 50
        plan.extend([w] * count)
    rng.shuffle(plan)
    conversations = t.table(
        "conversations",
        "id",
        "workspace_id",
        "title",
        "occurred_at",
        "duration_seconds",
        "host_user_id",
        "team_id",
        "created_at",
    )
    participants = t.table(
        "conversation_participants",
        "id",
        "workspace_id",
        "conversation_id",
        "user_id",
        "name",
        "email",
    )
    insights = t.table(
        "conversation_insights", "id", "workspace_id", "conversation_id", "kind", "content"
    )
    actions = t.table(
        "action_items", "id", "workspace_id", "conversation_id", "text", "assignee_user_id", "done"
    )
    transcripts = t.table("conversation_transcripts", "conversation_id", "workspace_id", "content")
    pid = action_id = 0
    for cid, w in enumerate(plan, start=1):
        people = roster[w]
        host_mid, host_uid, host_teams = rng.choice(people)
        team = rng.choice(host_teams) if rng.random() < 0.9 else None
        title = f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} with {rng.choice(LAST)}"
        occurred = BASE - timedelta(seconds=rng.randrange(365 * 86_400))
        conversations.append(
            (cid, w, title, occurred, rng.randint(900, 5400), host_uid, team, occurred)
        )
        pid += 1
        participants.append((pid, w, cid, host_uid, names[host_uid], emails[host_uid]))
        others = [p for p in rng.sample(people, k=min(len(people), 5)) if p[0] != host_mid]
        for slot in range(rng.randint(1, 4)):
            pid += 1
            if rng.random() < 0.15 or slot >= len(others):
                guest = f"Guest {pid % 1000}"
                participants.append((pid, w, cid, None, guest, f"guest{pid}@partner.test"))
            else:
                uid = others[slot][1]
                participants.append((pid, w, cid, uid, names[uid], emails[uid]))
        insights.append((cid, w, cid, "SUMMARY", f"Summary of {title}: next steps agreed."))
        for _ in range(rng.randint(0, 2)):
            action_id += 1
            actions.append((action_id, w, cid, f"Follow up on {title}", host_uid, False))
        transcripts.append(
            (cid, w, f"{names[host_uid]}: Thanks for joining {title}.\nGuest: Happy to be here.")
        )
    return t


SERIAL_TABLES = (
    "users",
    "workspaces",
    "roles",
    "teams",
    "members",
    "ai_providers",
    "integrations",
    "conversations",
    "conversation_participants",
    "conversation_insights",
    "action_items",
)


async def _load(dsn: str, tables: Tables) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            for name, rows in tables.rows.items():
                await conn.copy_records_to_table(name, records=rows, columns=tables.columns[name])
            for name in SERIAL_TABLES:
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # noqa: S608 (fixed names)
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {name}), false)"
                )
        # A database in its steady state, as autovacuum soon leaves one: statistics, and
        # visibility maps, without which an index-only scan (row-level security's
        # workspace_accounts lookup, every target's index scans) reads the table too.
        await conn.execute("VACUUM (ANALYZE)")
    finally:
        await conn.close()


async def _admin(dsn: str, *statements: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


async def current_stamp(cfg: BenchConfig) -> str | None:
    conn = await asyncpg.connect(cfg.maintenance_dsn)
    try:
        value: str | None = await conn.fetchval(
            "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database "
            "WHERE datname = $1",
            cfg.database,
        )
        return value
    finally:
        await conn.close()


def _migrate(cfg: BenchConfig) -> None:
    env = {
        **os.environ,
        "APP_ENV": "development",
        # The gateway's secret: migrate installs the tenant-context key derived from it.
        "JWT_SECRET": JWT_SECRET,
        "DATABASE_URL": cfg.app_sa_url,
        "MIGRATION_DATABASE_URL": cfg.owner_sa_url,
    }
    subprocess.run([sys.executable, "-m", "app", "migrate"], cwd=ROOT, env=env, check=True)


def ensure_database(cfg: BenchConfig, log: Any = print) -> dict[str, Any]:
    """Build the database unless an identical one exists; returns what was done."""
    wanted = stamp(cfg.scale)
    existing = asyncio.run(current_stamp(cfg))
    if existing == wanted:
        log(f"==> reusing database {cfg.database} ({wanted})")
        return {"database": cfg.database, "built": False, "stamp": wanted}
    started = time.perf_counter()
    log(f"==> building database {cfg.database} at scale {cfg.scale}")
    asyncio.run(
        _admin(
            cfg.maintenance_dsn,
            f'DROP DATABASE IF EXISTS "{cfg.database}" WITH (FORCE)',
            f'CREATE DATABASE "{cfg.database}"',
        )
    )
    _migrate(cfg)
    migrated = time.perf_counter()
    tables = generate(cfg.scale)
    generated = time.perf_counter()
    counts = {name: len(rows) for name, rows in tables.rows.items()}
    log("    generated " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    asyncio.run(_load(cfg.owner_dsn(), tables))
    literal = wanted.replace("'", "''")
    asyncio.run(
        _admin(cfg.maintenance_dsn, f"COMMENT ON DATABASE \"{cfg.database}\" IS '{literal}'")
    )
    seconds = time.perf_counter() - started
    log(
        f"    built in {seconds:.1f} s (migrate {migrated - started:.1f} s, generate "
        f"{generated - migrated:.1f} s, COPY + VACUUM {seconds - (generated - started):.1f} s)"
    )
    return {
        "database": cfg.database,
        "built": True,
        "stamp": wanted,
        "build_seconds": round(seconds, 1),
        "rows": counts,
    }
