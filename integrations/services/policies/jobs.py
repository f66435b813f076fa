"""The periodic routing-policy work beat runs (``integrations.tasks.run_policy_jobs``)."""

from __future__ import annotations

from integrations.services.policies.rollouts import advance_rollouts
from integrations.services.policies.scheduled import run_due_switches


def run_policy_jobs() -> dict[str, int]:
    """Run due scheduled switches, then one tick of every running rollout; returns counts by
    outcome (``switch_done``, ``rollout_running``, ``rollout_rolled_back``, …)."""
    counts: dict[str, int] = {}
    for row in run_due_switches():
        counts[f"switch_{row.status}"] = counts.get(f"switch_{row.status}", 0) + 1
    for rollout in advance_rollouts():
        counts[f"rollout_{rollout.status}"] = counts.get(f"rollout_{rollout.status}", 0) + 1
    return counts
