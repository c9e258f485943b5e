"""Workspaces: the Workspace type (which mixes in the fields of the other areas), its
settings, subscription and integrations, and Query.workspace(s)."""
