"""Login sessions: tickets, cookies, and which meetergo user an app user is."""
