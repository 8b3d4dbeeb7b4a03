"""The connect flow: flow tokens and cookies, the start route, the callback page."""
