"""Everything about talking to meetergo: the shared client, the route table, error mapping."""
