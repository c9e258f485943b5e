"""Harmony Gateway: the GraphQL API in front of Harmony workspaces."""
