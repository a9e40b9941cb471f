"""Shared by the anti-gaming tests: record and count events straight into a store (no app), and
read a member's rollup totals (their ``store`` fixture, on both backends, is in conftest.py)."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from bot.events import Event
from bot.recorder import Recorder
from bot.store import Store
from brain.activity.counters import ActivityCounters
from brain.activity.scoring import COUNTERS

ANSWER = "set the timeout on the client session, then retry with backoff"
UTC = ZoneInfo("UTC")


async def apply(store: Store, events: Sequence[Event], *, mode: str) -> None:
    """Record and count ``events``: in one batch ("one batch"), one event per batch on one worker
    ("live"), or one event per batch each on a fresh worker ("restarts": what a worker remembers
    must agree with what the rollups say after a restart)."""
    await Recorder(store).handle_batch(events)
    counters = ActivityCounters(store, UTC)
    for batch in [list(events)] if mode == "one batch" else [[e] for e in events]:
        if mode == "restarts":
            counters = ActivityCounters(store, UTC)
        await counters.apply(batch)


async def totals(store: Store, who: str) -> dict[str, int]:
    """``who``'s counters summed over every rollup row."""
    row = await store.db.fetchone(
        f"SELECT {', '.join(f'SUM({c})' for c in COUNTERS)} FROM activity_rollup WHERE user_id = ?", (who,)
    )
    return {c: int(v or 0) for c, v in zip(COUNTERS, row or (), strict=False)}
