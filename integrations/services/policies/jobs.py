"""The periodic routing-policy work beat runs (``integrations.tasks.run_policy_jobs``)."""

from __future__ import annotations

from integrations.services.policies.rollouts import advance_rollouts
from integrations.services.policies.scheduled import run_due_switches
from integrations.services.policies.spend_caps import evaluate_spend_caps


def run_policy_jobs() -> dict[str, int]:
    """Bring spend caps up to date, run due scheduled switches, then one tick of every running
    rollout; returns counts by outcome (``switch_done``, ``rollout_running``, …, and
    ``spend_caps_flipped`` when a cap was reached or released)."""
    counts: dict[str, int] = {}
    flipped = evaluate_spend_caps()
    if flipped:
        counts["spend_caps_flipped"] = flipped
    for row in run_due_switches():
        counts[f"switch_{row.status}"] = counts.get(f"switch_{row.status}", 0) + 1
    for rollout in advance_rollouts():
        counts[f"rollout_{rollout.status}"] = counts.get(f"rollout_{rollout.status}", 0) + 1
    return counts
