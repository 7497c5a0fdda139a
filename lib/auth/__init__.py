"""Who you are and what you may do: accounts and roles, sign-in rules, OIDC, lockout."""
