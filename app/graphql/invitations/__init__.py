"""Invitations: the Invitation type and the lists of them (their mutations answer a
Workspace, so they live in app.graphql.workspaces.invitations)."""
