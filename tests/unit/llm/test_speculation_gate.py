"""The speculation gate keeps the cheaper kind of step, and keeps checking the other."""

from __future__ import annotations

from brain.qa.llm.speculation_gate import SpeculationGate


def test_speculates_until_both_kinds_of_step_are_timed() -> None:
    gate = SpeculationGate()
    assert gate.should_speculate()
    gate.record(speculative=True, seconds=0.9, tokens=2)
    assert gate.should_speculate()  # plain steps not timed yet


def test_costly_speculation_is_mostly_skipped_but_re_explored() -> None:
    gate = SpeculationGate(explore_every=4)
    gate.record(speculative=True, seconds=0.35, tokens=2)  # 0.175 s/token
    gate.record(speculative=False, seconds=0.10, tokens=1)  # 0.100 s/token
    decisions = [gate.should_speculate() for _ in range(12)]
    assert decisions.count(True) == 3 and decisions[3] and decisions[7] and decisions[11]


def test_paying_speculation_continues_and_averages_move_with_new_timings() -> None:
    gate = SpeculationGate(alpha=0.5)
    gate.record(speculative=False, seconds=0.10, tokens=1)
    gate.record(speculative=True, seconds=0.30, tokens=6)  # 0.05 s/token: pays
    assert all(gate.should_speculate() for _ in range(20))
    gate.record(speculative=True, seconds=0.30, tokens=1)  # 0.30 s/token: average 0.175, now worse
    assert gate.speculative_cost == 0.175
    assert not gate.should_speculate()
    gate.record(speculative=True, seconds=0.0, tokens=0)  # a step that produced nothing changes nothing
    assert gate.speculative_cost == 0.175
