"""How often to checkpoint: Young's and Daly's first-order rule.

With C the time one checkpoint takes (measured: the first one's wall time) and M the mean time
between failures of the whole job (configured: checkpoint.mtbf_hours), the interval that
minimises the expected time lost, checkpoint writes plus work redone after a failure, is

    tau = sqrt(2 x C x M)

The overhead it leaves is about C / tau (writing) + tau / (2 M) (redoing half an interval on
average per failure), i.e. sqrt(2 C / M) in all. In steps: round(tau / seconds per step), at least 1.
"""

from __future__ import annotations

import math


def young_daly_seconds(checkpoint_cost_s: float, mtbf_s: float) -> float:
    if checkpoint_cost_s < 0 or mtbf_s <= 0:
        raise ValueError(f"checkpoint cost {checkpoint_cost_s} s must be >= 0 and MTBF {mtbf_s} s > 0")
    return math.sqrt(2.0 * checkpoint_cost_s * mtbf_s)


def interval_steps(checkpoint_cost_s: float, mtbf_s: float, step_time_s: float) -> int:
    if step_time_s <= 0:
        raise ValueError(f"step time {step_time_s} s must be > 0")
    return max(1, round(young_daly_seconds(checkpoint_cost_s, mtbf_s) / step_time_s))


def expected_overhead(checkpoint_cost_s: float, mtbf_s: float, interval_s: float) -> float:
    """Fraction of wall-clock spent writing checkpoints and redoing lost work (first order)."""
    return checkpoint_cost_s / interval_s + interval_s / (2.0 * mtbf_s)
