"""The Mutation type, assembled from the areas. Every field takes ``input:`` (described
here, once, for all) and returns a payload with ``userErrors``; its permission is
declared on the field."""

from __future__ import annotations

import strawberry

from app.graphql.mutations.account import AccountMutations
from app.graphql.mutations.api_keys import ApiKeyMutations
from app.graphql.mutations.conversations import ConversationMutations
from app.graphql.mutations.invitations import InvitationMutations
from app.graphql.mutations.members import MemberMutations
from app.graphql.mutations.roles import RoleMutations
from app.graphql.mutations.sessions import SessionMutations
from app.graphql.mutations.settings import SettingsMutations
from app.graphql.mutations.teams import TeamMutations
from app.graphql.mutations.webhooks import WebhookMutations


@strawberry.type(
    description="Changes. Each is one transaction: all of it, or nothing and `userErrors`."
)
class Mutation(
    MemberMutations,
    InvitationMutations,
    TeamMutations,
    RoleMutations,
    SettingsMutations,
    ApiKeyMutations,
    ConversationMutations,
    AccountMutations,
    SessionMutations,
    WebhookMutations,
):
    pass


INPUT_DESCRIPTION = (
    "The mutation's input. A value it refuses comes back in `userErrors`, at its `field` "
    "path, and nothing changes; a malformed ID is a `BAD_USER_INPUT` request error."
)


def describe_inputs(mutation_type: type) -> None:
    """Give every ``input`` argument that says nothing of itself the common description."""
    for field in mutation_type.__strawberry_definition__.fields:  # type: ignore[attr-defined]
        for argument in field.arguments:
            if argument.python_name == "input" and not argument.description:
                argument.description = INPUT_DESCRIPTION


describe_inputs(Mutation)
