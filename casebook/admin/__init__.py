"""Administration of accounts: users, roles, second factors and API tokens."""
