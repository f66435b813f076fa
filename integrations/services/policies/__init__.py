"""Routing policies beyond one primary: weighted split and tag rules (``channel_policy``), the
per-message order they give (``selection``). See docs/POLICIES.md."""
