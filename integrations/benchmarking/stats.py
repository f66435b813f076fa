"""Timing helpers: many repetitions, medians and p99s, no assertions."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Measurement:
    """One row of the benchmark table."""

    section: str
    name: str
    samples_us: list[float] = field(default_factory=list, repr=False)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.samples_us)

    @property
    def median_us(self) -> float | None:
        return statistics.median(self.samples_us) if self.samples_us else None

    @property
    def p99_us(self) -> float | None:
        return percentile(self.samples_us, 99) if self.samples_us else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "name": self.name,
            "count": self.count,
            "median_us": _round(self.median_us),
            "p99_us": _round(self.p99_us),
            **self.extra,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def percentile(samples: list[float], pct: float) -> float:
    """Nearest-rank percentile (the value at or below which pct % of samples fall)."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), int(round(pct / 100 * len(ordered) + 0.5))))
    return ordered[rank - 1]


def time_calls(fn: Callable[[], Any], *, repetitions: int, warmup: int = 20) -> list[float]:
    """Microseconds per call of ``fn``, one sample per call."""
    for _ in range(warmup):
        fn()
    samples = []
    clock = time.perf_counter_ns
    for _ in range(repetitions):
        started = clock()
        fn()
        samples.append((clock() - started) / 1000)
    return samples


def interleaved(functions: dict[str, Callable[[], Any]], *, repetitions: int, warmup: int = 20) -> dict[str, list[float]]:
    """Time several functions round-robin, so machine noise hits each alike (side by side)."""
    for fn in functions.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in functions}
    clock = time.perf_counter_ns
    for _ in range(repetitions):
        for name, fn in functions.items():
            started = clock()
            fn()
            samples[name].append((clock() - started) / 1000)
    return samples
