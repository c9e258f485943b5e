"""Conversations, their lists and share links."""
