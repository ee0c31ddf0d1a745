"""People: accounts, logging in, sessions with rotating refresh tokens, and MFA."""
