"""The peers' view of the bench database: schema ``peer`` (``public`` is not touched),
which PostGraphile 4 and 5 serve as GraphQL (``scripts/bench --peers``).

It is written in PostGraphile's own idiom (views with smart comments, SQL functions as
root fields and computed columns, composite types for nested objects) and mirrors the
gateway's contract for the benchmark's four documents, so that each peer's ``data`` can
be compared with the gateway's before any load:

- global IDs as the floor writes them (``queries.gid``: base64url("Type:pk")), in a
  column ``gid`` (each document aliases it ``id: gid``; PostGraphile keeps ``id`` /
  ``nodeId`` for its own node IDs); times as ``queries.iso`` renders them;
- the access checks: the viewer (setting ``app.user_id``, from the bearer token) must
  be an ACTIVE account to be the viewer, and an ACTIVE member of a workspace to read
  it (``workspace_by_slug``, else null); conversations are filtered to the viewer's
  ``conversations:read`` scope as the gateway filters them: ``all``, ``team`` (their
  teams' and their own) or ``own`` (hosted or joined). Admins hold every permission at
  ``all``; other roles hold what ``role_permissions`` grants (wildcard actions too);
- the same order: members by id, their teams by id; conversations newest first
  (``occurred_at DESC, id DESC``), their participants by id; AI providers by provider.

The peers connect as the database owner (like the floor), so these checks live in the
functions, not in row-level security.
"""

from __future__ import annotations

from benchmark.queries import gid, iso

SCHEMA = "peer"


# The viewer, or NULL for a request without a valid token.
_VIEWER = "nullif(current_setting('app.user_id', true), '')::int"


# The viewer's conversations:read scope in workspace ``w``: 3 all, 2 team, 1 own (NULL:
# not an ACTIVE member). Admins hold every permission at ``all``; other roles hold what
# role_permissions grants them, wildcard actions included.
_SCOPE = f"""SELECT CASE WHEN r.builtin = 'ADMIN' THEN 3 ELSE coalesce((
        SELECT max(CASE split_part(rp.permission, ':', 3)
                   WHEN 'all' THEN 3 WHEN 'team' THEN 2 WHEN 'own' THEN 1 END)
        FROM public.role_permissions rp
        WHERE rp.workspace_id = r.workspace_id AND rp.role_id = r.id
          AND split_part(rp.permission, ':', 1) = 'conversations'
          AND split_part(rp.permission, ':', 2) IN ('read', '*')), 0) END
      FROM public.members m
      JOIN public.roles r ON r.workspace_id = m.workspace_id AND r.id = m.role_id
      WHERE m.workspace_id = w.pk AND m.user_id = {_VIEWER} AND m.status = 'ACTIVE'"""  # noqa: S608 (constants)


def _tags(*lines: str) -> str:
    """A smart comment (PostGraphile reads one tag a line) as an SQL string literal."""
    return "E'" + "\\n".join(line.replace("'", "''") for line in lines) + "'"


def _view(*foreign_keys: str) -> str:
    """A view's smart comment: primary key ``pk``, its foreign keys ("column table"),
    and no generated mutations or root collections."""
    references = [
        f"@foreignKey ({column}) references peer.{table} (pk)"
        for column, table in (key.split() for key in foreign_keys)
    ]
    return _tags("@primaryKey pk", *references, "@omit create,update,delete,all,many")


def schema_sql() -> str:
    """The DDL of schema ``peer`` (dropped and written anew): run it in a transaction."""
    return f"""
DROP SCHEMA IF EXISTS {SCHEMA} CASCADE;
CREATE SCHEMA {SCHEMA};

CREATE VIEW peer.users AS
  SELECT u.id AS pk, {gid("User", "u.id")} AS gid, u.name::text AS name,
         u.email::text AS email, u.status::text AS status
  FROM public.users u;
COMMENT ON VIEW peer.users IS {_view()};

CREATE VIEW peer.workspaces AS
  SELECT w.id AS pk, {gid("Workspace", "w.id")} AS gid, w.slug::text AS slug,
         w.name::text AS name, w.logo_url::text AS logo_url, w.handbook,
         w.brand_primary_color::text AS primary_color,
         w.brand_accent_color::text AS accent_color
  FROM public.workspaces w;
COMMENT ON VIEW peer.workspaces IS {_view()};

CREATE VIEW peer.roles AS
  SELECT r.id AS pk, {gid("Role", "r.id")} AS gid, r.workspace_id AS workspace_pk,
         r.name::text AS name
  FROM public.roles r;
COMMENT ON VIEW peer.roles IS {_view()};

CREATE VIEW peer.teams AS
  SELECT t.id AS pk, {gid("Team", "t.id")} AS gid, t.workspace_id AS workspace_pk,
         t.name::text AS name
  FROM public.teams t;
COMMENT ON VIEW peer.teams IS {_view()};

CREATE VIEW peer.members AS
  SELECT m.id AS pk, {gid("Member", "m.id")} AS gid, m.workspace_id AS workspace_pk,
         m.user_id AS user_pk, m.role_id AS role_pk
  FROM public.members m;
COMMENT ON VIEW peer.members IS {_view("user_pk users", "role_pk roles")};

CREATE VIEW peer.conversations AS
  SELECT c.id AS pk, {gid("Conversation", "c.id")} AS gid, c.workspace_id AS workspace_pk,
         c.title::text AS title, {iso("c.occurred_at")} AS occurred_at,
         c.host_user_id AS host_pk, c.team_id AS team_pk, c.occurred_at AS sort_at
  FROM public.conversations c;
COMMENT ON VIEW peer.conversations IS {_view("host_pk users", "team_pk teams")};

CREATE VIEW peer.participants AS
  SELECT p.id AS pk, p.workspace_id AS workspace_pk, p.conversation_id AS conversation_pk,
         p.name::text AS name, p.user_id AS user_pk
  FROM public.conversation_participants p;
COMMENT ON VIEW peer.participants IS {_view("user_pk users")};

-- The settings page: composite types, one per nested object of the gateway's.
CREATE TYPE peer.branding AS (primary_color text, accent_color text);
CREATE TYPE peer.general_settings AS (
  name text, logo_url text, handbook text, branding peer.branding);
CREATE TYPE peer.ai_provider AS (provider text, enabled boolean, models text[]);
CREATE TYPE peer.intelligence_settings AS (
  default_model text, providers peer.ai_provider[]);
CREATE TYPE peer.workspace_settings AS (
  general peer.general_settings, intelligence peer.intelligence_settings);

-- {{ viewer }}: the ACTIVE account the token names.
CREATE FUNCTION peer.viewer() RETURNS peer.users LANGUAGE sql STABLE AS $$
  SELECT * FROM peer.users WHERE pk = {_VIEWER} AND status = 'ACTIVE'
$$;

-- workspace(slug:): only for an ACTIVE account that is an ACTIVE member of it.
CREATE FUNCTION peer.workspace_by_slug(slug text) RETURNS peer.workspaces
LANGUAGE sql STABLE AS $$
  SELECT w.* FROM peer.workspaces w
  WHERE w.slug = workspace_by_slug.slug
    AND EXISTS (
      SELECT 1 FROM public.members vm JOIN public.users vu ON vu.id = vm.user_id
      WHERE vm.workspace_id = w.pk AND vm.user_id = {_VIEWER}
        AND vm.status = 'ACTIVE' AND vu.status = 'ACTIVE')
$$;

-- Workspace.members: every member, in id order (the document asks for the first 50).
CREATE FUNCTION peer.workspaces_members(w peer.workspaces) RETURNS SETOF peer.members
LANGUAGE sql STABLE AS $$
  SELECT m.* FROM peer.members m WHERE m.workspace_pk = w.pk ORDER BY m.pk
$$;

-- Member.teams: a plain list in team id order.
CREATE FUNCTION peer.members_teams(m peer.members) RETURNS SETOF peer.teams
LANGUAGE sql STABLE AS $$
  SELECT t.* FROM public.team_members tm
  JOIN peer.teams t ON t.workspace_pk = tm.workspace_id AND t.pk = tm.team_id
  WHERE tm.workspace_id = m.workspace_pk AND tm.member_id = m.pk
  ORDER BY t.pk
$$;
COMMENT ON FUNCTION peer.members_teams(peer.members) IS
  {_tags("@simpleCollections only", "@behavior +list -connection")};

-- Workspace.conversations: those the viewer's scope reaches, newest first. The scope is
-- a scalar subquery (an InitPlan: read once per call, not per row), so the newest-first
-- scan stops after the page.
CREATE FUNCTION peer.workspaces_conversations(w peer.workspaces)
RETURNS SETOF peer.conversations LANGUAGE sql STABLE AS $$
  SELECT c.* FROM peer.conversations c
  WHERE c.workspace_pk = w.pk AND (
    ({_SCOPE}) = 3
    OR (({_SCOPE}) >= 1 AND (
      c.host_pk = {_VIEWER}
      OR EXISTS (SELECT 1 FROM public.conversation_participants p
                 WHERE p.workspace_id = c.workspace_pk AND p.conversation_id = c.pk
                   AND p.user_id = {_VIEWER})))
    OR (({_SCOPE}) = 2 AND c.team_pk IN (
      SELECT tm.team_id FROM public.team_members tm
      JOIN public.members m ON m.workspace_id = tm.workspace_id AND m.id = tm.member_id
      WHERE tm.workspace_id = c.workspace_pk AND m.user_id = {_VIEWER})))
  ORDER BY c.sort_at DESC, c.pk DESC
$$;

-- Conversation.participants: a plain list in id order.
CREATE FUNCTION peer.conversations_participants(c peer.conversations)
RETURNS SETOF peer.participants LANGUAGE sql STABLE AS $$
  SELECT p.* FROM peer.participants p
  WHERE p.workspace_pk = c.workspace_pk AND p.conversation_pk = c.pk
  ORDER BY p.pk
$$;
COMMENT ON FUNCTION peer.conversations_participants(peer.conversations) IS
  {_tags("@simpleCollections only", "@behavior +list -connection")};

-- Workspace.settings: general (the workspace's own columns) and intelligence (its
-- default model, its AI providers by provider key).
CREATE FUNCTION peer.workspaces_settings(w peer.workspaces) RETURNS peer.workspace_settings
LANGUAGE sql STABLE AS $$
  SELECT ROW(
    ROW(w.name, w.logo_url, w.handbook,
        ROW(w.primary_color, w.accent_color)::peer.branding)::peer.general_settings,
    ROW(
      (SELECT i.default_model::text FROM public.intelligence_settings i
       WHERE i.workspace_id = w.pk),
      ARRAY(
        SELECT ROW(p.provider::text, p.enabled,
                   ARRAY(SELECT json_array_elements_text(p.models)))::peer.ai_provider
        FROM public.ai_providers p WHERE p.workspace_id = w.pk ORDER BY p.provider)
    )::peer.intelligence_settings
  )::peer.workspace_settings
$$;
"""  # noqa: S608 (built from constants: no value from outside)
