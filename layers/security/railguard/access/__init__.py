"""Who may call, from where, how often and once: the permission table, principals, network
allowlists, plans, rate limits, throttles, idempotency."""
