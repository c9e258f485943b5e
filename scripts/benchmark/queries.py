"""The measured GraphQL documents, and for each one the floor's single SQL statement
that returns the same ``data`` (PostgreSQL builds the JSON; the floor passes it on).

The floor's SQL mirrors the gateway's contract: global IDs are base64url("Type:pk")
without padding, members in id order with their teams in id order, conversations newest
first (``occurred_at DESC, id DESC``) with participants in id order, AI providers by
provider key. It only serves workspaces where the viewer is an ACTIVE member and only
for an ACTIVE account; the benchmark's viewers are Admins, so every field is readable
and the conversation list is the whole workspace's (scope ``all``).
"""

from __future__ import annotations

from dataclasses import dataclass

MEMBER_FIELDS = "nodes { id user { id name email } role { id name } teams { id name } }"
CONVERSATION_FIELDS = (
    "nodes { id title occurredAt host { id name } team { id name } "
    "participants { name user { id } } }"
)

VIEWER = "query Viewer { viewer { id name } }"
MEMBERS = (
    "query MembersPage($slug: String!) { workspace(slug: $slug) "
    f"{{ members(first: 50) {{ {MEMBER_FIELDS} }} }} }}"
)
CONVERSATIONS = (
    "query ConversationList($slug: String!) { workspace(slug: $slug) "
    f"{{ conversations(first: 50) {{ {CONVERSATION_FIELDS} }} }} }}"
)
SETTINGS = (
    "query SettingsPage($slug: String!) { workspace(slug: $slug) { settings { "
    "general { name logoUrl handbook branding { primaryColor accentColor } } "
    "intelligence { defaultModel providers { provider enabled models } } } } }"
)
# Deep pages (scale >= 10): the same page with a cursor, against the first page of the
# same text (after: null) over the same workspaces.
MEMBERS_AFTER = (
    "query MembersPageAfter($slug: String!, $after: String) { workspace(slug: $slug) "
    f"{{ members(first: 50, after: $after) {{ {MEMBER_FIELDS} }} }} }}"
)
CONVERSATIONS_AFTER = (
    "query ConversationListAfter($slug: String!, $after: String) { workspace(slug: $slug) "
    f"{{ conversations(first: 50, after: $after) {{ {CONVERSATION_FIELDS} }} }} }}"
)
# Used once per deep workspace to obtain the gateway's own cursors.
MEMBERS_CURSOR = (
    "query Cursor($slug: String!, $first: Int!, $after: String) { workspace(slug: $slug) "
    "{ members(first: $first, after: $after) { pageInfo { endCursor } } } }"
)
CONVERSATIONS_CURSOR = (
    "query Cursor($slug: String!, $first: Int!, $after: String) { workspace(slug: $slug) "
    "{ conversations(first: $first, after: $after) { pageInfo { endCursor } } } }"
)


def gid(type_name: str, column: str) -> str:
    """SQL for the opaque global ID of ``column`` (a short value: no base64 line breaks)."""
    return (
        f"rtrim(translate(encode(convert_to('{type_name}:' || {column}, 'UTF8'), 'base64'), "
        f"'+/', '-_'), '=')"
    )


def iso(column: str) -> str:
    """SQL rendering a timestamptz as Python's ``datetime.isoformat()`` of a UTC value."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
        f"CASE WHEN date_part('microseconds', {utc})::int % 1000000 = 0 THEN '' "
        f"ELSE to_char({utc}, '.US') END || '+00:00'"
    )


# $1 slug, $2 viewer user id. Yields (workspace w) only for an ACTIVE member of it.
_WORKSPACE = """
FROM (SELECT 1) AS one
LEFT JOIN workspaces w ON w.slug = $1 AND EXISTS (
    SELECT 1 FROM members vm JOIN users vu ON vu.id = vm.user_id
    WHERE vm.workspace_id = w.id AND vm.user_id = $2
      AND vm.status = 'ACTIVE' AND vu.status = 'ACTIVE')
"""

FLOOR_VIEWER = f"""
SELECT json_build_object('viewer', json_build_object('id', {gid("User", "u.id")}, 'name', u.name))::text
FROM users u WHERE u.id = $1 AND u.status = 'ACTIVE'
"""  # noqa: S608 (built from constants; values are bind parameters)

# $3: member id to page after (0: first page).
FLOOR_MEMBERS = f"""
SELECT json_build_object('workspace', CASE WHEN w.id IS NULL THEN NULL ELSE
  json_build_object('members', json_build_object('nodes', coalesce((
    SELECT json_agg(json_build_object(
        'id', {gid("Member", "m.id")},
        'user', json_build_object('id', {gid("User", "u.id")}, 'name', u.name, 'email', u.email),
        'role', json_build_object('id', {gid("Role", "r.id")}, 'name', r.name),
        'teams', coalesce((
            SELECT json_agg(json_build_object('id', {gid("Team", "t.id")}, 'name', t.name)
                            ORDER BY t.id)
            FROM team_members tm
            JOIN teams t ON t.workspace_id = tm.workspace_id AND t.id = tm.team_id
            WHERE tm.workspace_id = m.workspace_id AND tm.member_id = m.id), '[]'::json)
      ) ORDER BY m.id)
    FROM (SELECT * FROM members WHERE workspace_id = w.id AND id > $3 ORDER BY id LIMIT 50) m
    JOIN users u ON u.id = m.user_id
    JOIN roles r ON r.workspace_id = m.workspace_id AND r.id = m.role_id
  ), '[]'::json))) END)::text
{_WORKSPACE}
"""  # noqa: S608 (built from constants; values are bind parameters)

# $3, $4: (occurred_at, id) to page after (far future, 0: first page).
FLOOR_CONVERSATIONS = f"""
SELECT json_build_object('workspace', CASE WHEN w.id IS NULL THEN NULL ELSE
  json_build_object('conversations', json_build_object('nodes', coalesce((
    SELECT json_agg(json_build_object(
        'id', {gid("Conversation", "c.id")},
        'title', c.title,
        'occurredAt', {iso("c.occurred_at")},
        'host', json_build_object('id', {gid("User", "h.id")}, 'name', h.name),
        'team', CASE WHEN t.id IS NULL THEN NULL
                ELSE json_build_object('id', {gid("Team", "t.id")}, 'name', t.name) END,
        'participants', coalesce((
            SELECT json_agg(json_build_object(
                'name', p.name,
                'user', CASE WHEN p.user_id IS NULL THEN NULL
                        ELSE json_build_object('id', {gid("User", "p.user_id")}) END)
              ORDER BY p.id)
            FROM conversation_participants p
            WHERE p.workspace_id = c.workspace_id AND p.conversation_id = c.id), '[]'::json)
      ) ORDER BY c.occurred_at DESC, c.id DESC)
    FROM (SELECT * FROM conversations
          WHERE workspace_id = w.id AND (occurred_at, id) < ($3, $4)
          ORDER BY occurred_at DESC, id DESC LIMIT 50) c
    JOIN users h ON h.id = c.host_user_id
    LEFT JOIN teams t ON t.workspace_id = c.workspace_id AND t.id = c.team_id
  ), '[]'::json))) END)::text
{_WORKSPACE}
"""  # noqa: S608 (built from constants; values are bind parameters)

FLOOR_SETTINGS = f"""
SELECT json_build_object('workspace', CASE WHEN w.id IS NULL THEN NULL ELSE
  json_build_object('settings', json_build_object(
    'general', json_build_object(
        'name', w.name, 'logoUrl', w.logo_url, 'handbook', w.handbook,
        'branding', json_build_object(
            'primaryColor', w.brand_primary_color, 'accentColor', w.brand_accent_color)),
    'intelligence', json_build_object(
        'defaultModel', (SELECT i.default_model FROM intelligence_settings i
                         WHERE i.workspace_id = w.id),
        'providers', coalesce((
            SELECT json_agg(json_build_object(
                'provider', p.provider, 'enabled', p.enabled, 'models', p.models)
              ORDER BY p.provider)
            FROM ai_providers p WHERE p.workspace_id = w.id), '[]'::json))
  )) END)::text
{_WORKSPACE}
"""  # noqa: S608 (built from constants; values are bind parameters)


# The same documents for the peers (PostGraphile 4 and 5 over schema ``peer``,
# benchmark.peer_schema): PostGraphile's field names aliased to the gateway's, so that
# a peer's ``data`` is the gateway's (IDs compared as the floor's are).
PEER_MEMBER_FIELDS = (
    "nodes { id: gid user: userByUserPk { id: gid name email } "
    "role: roleByRolePk { id: gid name } teams: teamsList { id: gid name } }"
)
PEER_CONVERSATION_FIELDS = (
    "nodes { id: gid title occurredAt host: userByHostPk { id: gid name } "
    "team: teamByTeamPk { id: gid name } "
    "participants: participantsList { name user: userByUserPk { id: gid } } }"
)
PEER_VIEWER = "query Viewer { viewer { id: gid name } }"
PEER_MEMBERS = (
    "query MembersPage($slug: String!) { workspace: workspaceBySlug(slug: $slug) "
    f"{{ members(first: 50) {{ {PEER_MEMBER_FIELDS} }} }} }}"
)
PEER_CONVERSATIONS = (
    "query ConversationList($slug: String!) { workspace: workspaceBySlug(slug: $slug) "
    f"{{ conversations(first: 50) {{ {PEER_CONVERSATION_FIELDS} }} }} }}"
)
PEER_SETTINGS = (
    "query SettingsPage($slug: String!) { workspace: workspaceBySlug(slug: $slug) { "
    "settings { general { name logoUrl handbook branding { primaryColor accentColor } } "
    "intelligence { defaultModel providers { provider enabled models } } } } }"
)
# Deep pages: the same with a cursor; each peer's cursors come from walking its own API.
PEER_MEMBERS_AFTER = (
    "query MembersPageAfter($slug: String!, $after: Cursor) { workspace: workspaceBySlug"
    f"(slug: $slug) {{ members(first: 50, after: $after) {{ {PEER_MEMBER_FIELDS} }} }} }}"
)
PEER_CONVERSATIONS_AFTER = (
    "query ConversationListAfter($slug: String!, $after: Cursor) { workspace: "
    "workspaceBySlug(slug: $slug) { conversations(first: 50, after: $after) "
    f"{{ {PEER_CONVERSATION_FIELDS} }} }} }}"
)
PEER_MEMBERS_CURSOR = (
    "query Cursor($slug: String!, $first: Int!, $after: Cursor) { workspace: "
    "workspaceBySlug(slug: $slug) { members(first: $first, after: $after) "
    "{ pageInfo { endCursor } } } }"
)
PEER_CONVERSATIONS_CURSOR = (
    "query Cursor($slug: String!, $first: Int!, $after: Cursor) { workspace: "
    "workspaceBySlug(slug: $slug) { conversations(first: $first, after: $after) "
    "{ pageInfo { endCursor } } } }"
)


@dataclass(frozen=True)
class Workload:
    """One measured query: its GraphQL text, the floor endpoint that mirrors it, and the
    peers' document (or why there is none)."""

    name: str
    label: str
    document: str
    floor_path: str
    deep: bool = False  # part of the deep-page comparison (scale >= 10, c=16 only)
    peer_document: str | None = None
    peer_skipped: str = ""  # the reason, when peer_document is None


WORKLOADS = (
    Workload("viewer", "viewer { id name }", VIEWER, "/viewer", peer_document=PEER_VIEWER),
    Workload(
        "members",
        "members page (50 x user, role, teams)",
        MEMBERS,
        "/members",
        peer_document=PEER_MEMBERS,
    ),
    Workload(
        "conversations",
        "conversation list (50 x host, team, participants)",
        CONVERSATIONS,
        "/conversations",
        peer_document=PEER_CONVERSATIONS,
    ),
    Workload(
        "settings",
        "settings page (general + intelligence)",
        SETTINGS,
        "/settings",
        peer_document=PEER_SETTINGS,
    ),
)
DEEP_WORKLOADS = (
    Workload(
        "members_first_big",
        "members page 1, workspaces ≥ 140 members",
        MEMBERS_AFTER,
        "/members",
        deep=True,
        peer_document=PEER_MEMBERS_AFTER,
    ),
    Workload(
        "members_after_90",
        "members page after the 90th member",
        MEMBERS_AFTER,
        "/members",
        deep=True,
        peer_document=PEER_MEMBERS_AFTER,
    ),
    Workload(
        "conversations_first_big",
        "conversation list page 1, workspaces with 1,000 conversations",
        CONVERSATIONS_AFTER,
        "/conversations",
        deep=True,
        peer_document=PEER_CONVERSATIONS_AFTER,
    ),
    Workload(
        "conversations_after_500",
        "conversation list after the 500th conversation",
        CONVERSATIONS_AFTER,
        "/conversations",
        deep=True,
        peer_document=PEER_CONVERSATIONS_AFTER,
    ),
)
