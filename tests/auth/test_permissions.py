"""The permission model (app/auth/permissions.py): pure functions, no database."""

from __future__ import annotations

import pytest

from app.auth.permissions import (
    CATALOGUE,
    MEMBER_PERMISSIONS,
    InvalidPermissionError,
    Permission,
    PermissionSet,
    Scope,
    admin_permissions,
    catalogue,
    expand_for_display,
    parse_permission,
)

# The contract's resources (DESIGN.md, "Permissions").
RESOURCES = {
    "webhooks",
    "organization",
    "members",
    "teams",
    "roles",
    "integrations",
    "billing",
    "conversations",
    "insights",
    "intelligence",
    "api_keys",
    "audit",
}

# The contract's built-in Member, verbatim.
CONTRACT_MEMBER = {
    "organization:read:all",
    "members:read:all",
    "teams:read:all",
    "roles:read:all",
    "integrations:read:all",
    "conversations:read:team",
    "conversations:share:own",
    "insights:read:team",
}


def test_parse_a_permission() -> None:
    assert parse_permission("members:read:all") == Permission("members", "read", Scope.ALL)
    assert parse_permission("conversations:share:own") == Permission(
        "conversations", "share", Scope.OWN
    )


def test_a_permission_prints_as_it_parses() -> None:
    for text in catalogue():
        assert str(parse_permission(text)) == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "is not of the form resource:action:scope"),
        ("members", "is not of the form resource:action:scope"),
        ("members:read", "is not of the form resource:action:scope"),
        ("members:read:all:extra", "is not of the form resource:action:scope"),
        ("::", "is not of the form resource:action:scope"),
        ("members::all", "is not of the form resource:action:scope"),
        (":read:all", "is not of the form resource:action:scope"),
        ("members:read:", "is not of the form resource:action:scope"),
    ],
)
def test_malformed_strings_are_refused(text: str, reason: str) -> None:
    with pytest.raises(InvalidPermissionError, match=reason):
        parse_permission(text)


@pytest.mark.parametrize(
    "text", ["payroll:read:all", "Members:read:all", " members:read:all", "*:read:all"]
)
def test_unknown_resource_is_refused(text: str) -> None:
    with pytest.raises(InvalidPermissionError, match="unknown resource"):
        parse_permission(text)


@pytest.mark.parametrize(
    "text", ["members:share:all", "billing:delete:all", "audit:update:all", "roles:READ:all"]
)
def test_action_the_resource_lacks_is_refused(text: str) -> None:
    with pytest.raises(InvalidPermissionError, match="has no action"):
        parse_permission(text)


@pytest.mark.parametrize(
    "text",
    [
        "members:read:everything",
        "members:read:ALL",
        "conversations:read:Team",
        "members:read:all ",
        "roles:read:*",
    ],
)
def test_unknown_scope_is_refused(text: str) -> None:
    with pytest.raises(InvalidPermissionError, match="unknown scope"):
        parse_permission(text)


@pytest.mark.parametrize("text", ["members:read:own", "billing:read:team", "roles:*:team"])
def test_scope_the_resource_is_not_granted_at_is_refused(text: str) -> None:
    with pytest.raises(InvalidPermissionError, match="is granted at scope all"):
        parse_permission(text)


def test_wildcard_action_grants_every_action_of_the_resource() -> None:
    assert [str(p) for p in parse_permission("roles:*:all").expand()] == [
        "roles:read:all",
        "roles:create:all",
        "roles:update:all",
        "roles:delete:all",
    ]
    held = PermissionSet(["roles:*:all"])
    for action in ("read", "create", "update", "delete"):
        assert held.allows(f"roles:{action}:all")
    assert held.allows("roles:*:all")
    assert not held.allows("teams:read:all")


def test_wildcard_requirement_needs_every_action() -> None:
    assert not PermissionSet(["roles:read:all", "roles:update:all"]).allows("roles:*:all")
    assert PermissionSet(
        ["roles:read:all", "roles:create:all", "roles:update:all", "roles:delete:all"]
    ).allows("roles:*:all")


def test_wildcard_at_a_narrow_scope_keeps_that_scope() -> None:
    held = PermissionSet(["conversations:*:own"])
    assert held.allows("conversations:share:own")
    assert not held.allows("conversations:share:team")
    assert held.scope_of("conversations", "delete") is Scope.OWN


def test_empty_requirement_is_an_error_not_a_refusal() -> None:
    with pytest.raises(InvalidPermissionError):
        PermissionSet(["members:read:all"]).allows("")


def test_empty_set_allows_nothing_and_is_falsy() -> None:
    held = PermissionSet([])
    assert not held
    assert not any(held.allows(p) for p in catalogue())
    assert held.scope_of("members", "read") is None


def test_an_invalid_granted_string_is_refused() -> None:
    with pytest.raises(InvalidPermissionError):
        PermissionSet(["members:read:all", "members:fly:all"])


def test_scopes_nest_own_team_all() -> None:
    assert Scope.OWN < Scope.TEAM < Scope.ALL
    own = PermissionSet(["conversations:read:own"])
    team = PermissionSet(["conversations:read:team"])
    every = PermissionSet(["conversations:read:all"])
    required = ["conversations:read:own", "conversations:read:team", "conversations:read:all"]
    assert [own.allows(r) for r in required] == [True, False, False]
    assert [team.allows(r) for r in required] == [True, True, False]
    assert [every.allows(r) for r in required] == [True, True, True]


def test_the_widest_scope_held_wins() -> None:
    held = PermissionSet(["conversations:read:own", "conversations:read:all"])
    assert held.scope_of("conversations", "read") is Scope.ALL
    assert held.scope_of("conversations", "delete") is None


def test_catalogue_covers_exactly_the_contract_resources() -> None:
    assert set(CATALOGUE) == RESOURCES
    assert {p.split(":")[0] for p in catalogue()} == RESOURCES
    assert len(catalogue()) == len(set(catalogue()))


def test_only_conversations_and_insights_have_narrow_scopes() -> None:
    narrow = {p.split(":")[0] for p in catalogue() if not p.endswith(":all")}
    assert narrow == {"conversations", "insights"}


def test_admin_is_the_whole_catalogue_at_all() -> None:
    expected = {p for p in catalogue() if p.endswith(":all")}
    assert admin_permissions() == expected
    assert {"organization:update:all", "billing:update:all", "audit:read:all"} <= expected
    admin = PermissionSet(admin_permissions())
    # Holding each permission at `all` also grants it at every narrower scope.
    assert all(admin.allows(p) for p in catalogue())


def test_member_holds_exactly_the_contract_list() -> None:
    assert len(MEMBER_PERMISSIONS) == len(CONTRACT_MEMBER)
    assert set(MEMBER_PERMISSIONS) == CONTRACT_MEMBER
    member = PermissionSet(MEMBER_PERMISSIONS)
    assert member.allows("conversations:read:own")
    assert not member.allows("conversations:read:all")
    assert not member.allows("billing:read:all")
    assert not member.allows("intelligence:read:all")
    assert not member.allows("conversations:share:team")


def test_covers_is_the_no_escalation_rule() -> None:
    admin = PermissionSet(admin_permissions())
    member = PermissionSet(MEMBER_PERMISSIONS)
    billing = PermissionSet(["billing:*:all", *MEMBER_PERMISSIONS])
    assert admin.covers(MEMBER_PERMISSIONS)
    assert admin.covers(admin_permissions())
    assert member.covers(MEMBER_PERMISSIONS)
    assert member.covers(["conversations:read:own"])  # a narrower scope of one held
    assert not member.covers(["conversations:read:all"])  # a wider scope
    assert not member.covers(["billing:read:all"])
    assert not member.covers([*MEMBER_PERMISSIONS, "members:update:all"])
    assert billing.covers(["billing:read:all", "billing:update:all"])
    assert billing.covers(["billing:*:all"])
    assert not PermissionSet(["billing:read:all"]).covers(["billing:*:all"])
    assert member.covers([])


def test_covers_refuses_invalid_strings() -> None:
    with pytest.raises(InvalidPermissionError):
        PermissionSet(admin_permissions()).covers(["billing:steal:all"])


def test_display_expands_wildcards_in_catalogue_order_without_duplicates() -> None:
    assert expand_for_display(["billing:*:all", "organization:read:all", "billing:read:all"]) == [
        "organization:read:all",
        "billing:read:all",
        "billing:update:all",
    ]
    assert expand_for_display(admin_permissions()) == [p for p in catalogue() if p.endswith(":all")]
    assert expand_for_display([]) == []
