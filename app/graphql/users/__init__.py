"""Accounts: the User type and Query.viewer."""
