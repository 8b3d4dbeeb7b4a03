"""Spending meetergo's rate limit like the budget it is: the shared window, the read cache and
the pipeline stages that use them (see docs/design.md, "meetergo's rate limit")."""
