"""The periodic routing-policy work beat runs (``integrations.tasks.run_policy_jobs``)."""

from __future__ import annotations

from integrations.services.policies.scheduled import run_due_switches


def run_policy_jobs() -> dict[str, int]:
    """Run due scheduled switches; returns counts by outcome."""
    counts: dict[str, int] = {}
    for row in run_due_switches():
        counts[f"switch_{row.status}"] = counts.get(f"switch_{row.status}", 0) + 1
    return counts
