"""Diagnostic oracles of the offline protocol: what they peek at, and that they stop at ``until``."""

from __future__ import annotations

from bot.store import MessageRow
from brain.recommend.ceiling import ORACLES, oracle_ceilings

HOUR = 3600.0
SPLIT = 1000 * HOUR


def _msg(mid: str, author: str, ts: float, thread: str | None = None, text: str = "hi") -> MessageRow:
    return MessageRow("slack", "T", mid, "C", author, ts, text, thread_id=thread or mid)


def _before(member: str) -> list[MessageRow]:
    """Enough history before the split for ``member`` to be evaluated (others stay below 5 messages)."""
    return [_msg(f"{member}-{i}", member, i * HOUR) for i in range(6)]


def _openings(n: int = 20) -> list[MessageRow]:
    """``n`` threads opened by a helper after the split, 10 hours apart."""
    return [_msg(f"T{i}", "OP", SPLIT + i * 10 * HOUR, text="question?") for i in range(n)]


def test_present_oracle_finds_the_thread_the_member_was_online_for() -> None:
    rows = [
        *_before("U0"),
        *_openings(),
        # U0 posts in a conversation of their own half an hour after T7 opened, then replies to T7.
        _msg("own", "U0", SPLIT + 70 * HOUR + 0.5 * HOUR),
        _msg("r7", "U0", SPLIT + 70 * HOUR + HOUR, thread="T7"),
        # A crowd gathers in T3, without U0.
        _msg("c1", "X1", SPLIT + 30 * HOUR + 60, thread="T3"),
        _msg("c2", "X2", SPLIT + 30 * HOUR + 120, thread="T3"),
    ]
    ceilings = oracle_ceilings(sorted(rows, key=lambda m: m.ts), SPLIT, k=1)
    assert set(ceilings.hit_rate) == set(ORACLES)
    assert ceilings.users == 1
    assert ceilings.hit_rate["present"] == 1.0
    assert ceilings.hit_rate["other repliers"] == 0.0  # the crowd was in T3
    assert ceilings.hit_rate["present x other repliers"] == 1.0
    assert ceilings.truth_opened_after_split == 1.0


def test_crowd_oracle_counts_other_members_only() -> None:
    rows = [
        *_before("U1"),
        *_openings(),
        _msg("a", "U1", SPLIT + 30 * HOUR + 60, thread="T3"),
        _msg("b", "X1", SPLIT + 30 * HOUR + 120, thread="T3"),
        # The starter answering in their own thread is no crowd; neither is U1 posting twice in T5.
        _msg("c", "OP", SPLIT + 50 * HOUR + 60, thread="T5"),
        _msg("d", "X2", SPLIT + 90 * HOUR + 60, thread="T9"),
    ]
    ceilings = oracle_ceilings(sorted(rows, key=lambda m: m.ts), SPLIT, k=1)
    assert ceilings.users == 1
    # T3 (X1 besides U1) and T9 (X2) tie on one other replier: the seeded tie-break decides, so use k=2.
    assert oracle_ceilings(sorted(rows, key=lambda m: m.ts), SPLIT, k=2).hit_rate["other repliers"] == 1.0
    assert ceilings.hit_rate["present"] <= 1.0


def test_ceilings_never_read_past_until() -> None:
    rows = [*_before("U0"), *_openings(), _msg("r7", "U0", SPLIT + 70 * HOUR + HOUR, thread="T7")]
    until = SPLIT + 200 * HOUR
    later = [_msg(f"late{i}", "U0", until + i * HOUR, thread=f"T{i}") for i in range(3)]
    base = oracle_ceilings(rows, SPLIT, until=until, k=10)
    assert oracle_ceilings(rows + later, SPLIT, until=until, k=10) == base


def test_share_of_truth_opened_after_the_split() -> None:
    old = _msg("old", "OP", SPLIT - 2 * HOUR, text="still open?")
    rows = [
        *_before("U0"),
        old,
        *_openings(),
        _msg("r-old", "U0", SPLIT + HOUR, thread="old"),
        _msg("r7", "U0", SPLIT + 70 * HOUR + HOUR, thread="T7"),
    ]
    assert oracle_ceilings(sorted(rows, key=lambda m: m.ts), SPLIT).truth_opened_after_split == 0.5
