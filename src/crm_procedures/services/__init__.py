"""Use cases: one function or method per user action, inside a unit of work."""
