"""Accounts, roles and permissions, login with two factors, sessions and API tokens."""
