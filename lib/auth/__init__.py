"""Who you are and what you may do: accounts and sign-in rules, roles and viewers (access),
the cookie key, OIDC, lockout."""
