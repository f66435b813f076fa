"""Append-only audit trail. Write with ``audit.services.record(...)``."""
