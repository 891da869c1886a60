"""Stragglers: a rank whose own compute time is persistently above the others'.

Every rank times the part of its step that waits on no other rank (the forward passes, and the
backward passes of micro-batches accumulated without a gradient exchange); wall time per step is
the same everywhere, since the gradient exchange waits for the slowest. At the end of each window
(window_steps steps) the ranks' mean times are gathered; a rank above ratio x the median of the
other ranks is slow in that window (the others', so that with two ranks the slow one is measured
against the fast one, not against a median it pulls up), and one slow for `windows` windows in a
row is a straggler: logged and reported.
"""

from __future__ import annotations

import statistics


class StragglerDetector:
    def __init__(self, world_size: int, ratio: float, windows: int) -> None:
        self.ratio = ratio
        self.windows = windows
        self.streak = [0] * world_size

    def observe(self, times: list[float]) -> list[int]:
        """One window's per-rank mean times; returns the ranks that are stragglers now."""
        if len(times) != len(self.streak):
            raise ValueError(f"expected {len(self.streak)} rank times, got {len(times)}")
        for rank, t in enumerate(times):
            others = times[:rank] + times[rank + 1 :]
            median = statistics.median(others) if others else t
            slow = median > 0 and t > self.ratio * median
            self.streak[rank] = self.streak[rank] + 1 if slow else 0
        return [r for r, s in enumerate(self.streak) if s >= self.windows]
