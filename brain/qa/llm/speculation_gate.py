"""Speculate only while it pays: a running comparison of seconds per token with and without.

Prompt-lookup speculation verifies a handful of proposed tokens in one forward pass. Whether that
beats plain one-token steps depends on the hardware: on a GPU a nine-token pass costs about one
step, so every accepted proposal is profit; on a CPU with float16 one-row decoding
(``half_decode.py``) a nine-row pass runs in float32 and costs ~3.5 one-token steps, so it wins only
when more than ~3.5 tokens come out of it. Rather than a per-machine constant, the batcher times
both kinds of step for lone requests and keeps an exponential moving average of seconds per
produced token for each; speculation continues while its average is no worse, and is otherwise
retried on one step in ``explore_every`` so a change (a prompt that copies its sources verbatim,
a quieter machine) is noticed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SpeculationGate:
    """Decides, step by step, whether a lone greedy request should speculate."""

    alpha: float = 0.2
    explore_every: int = 16
    speculative_cost: float | None = None  # EMA seconds per produced token, speculative steps
    plain_cost: float | None = None  # EMA seconds per produced token, one-token steps
    _skipped: int = 0

    def should_speculate(self) -> bool:
        """True to speculate on the next step (always until both kinds of step have been timed)."""
        if self.speculative_cost is None or self.plain_cost is None or self.speculative_cost <= self.plain_cost:
            return True
        self._skipped += 1
        if self._skipped >= self.explore_every:
            self._skipped = 0
            return True
        return False

    def record(self, *, speculative: bool, seconds: float, tokens: int) -> None:
        """Account one step of a lone request that produced ``tokens`` tokens in ``seconds``."""
        if tokens <= 0:
            return
        cost = seconds / tokens
        if speculative:
            old = self.speculative_cost
            self.speculative_cost = cost if old is None else old + self.alpha * (cost - old)
        else:
            old = self.plain_cost
            self.plain_cost = cost if old is None else old + self.alpha * (cost - old)
