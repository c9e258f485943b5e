"""The Mutation type, assembled from the areas. Every field takes ``input:`` and
returns a payload with ``userErrors``; its permission is declared on the field."""

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
):
    pass
