"""A workspace's administration: API keys, the audit log, the admin count, share links."""
