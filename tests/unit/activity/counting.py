"""Shared by the anti-gaming tests: record and count events straight into a store (no app), and
read a member's rollup totals (their ``store`` fixture, on both backends, is in conftest.py)."""

from __future__ import annotations

from collections import Counter
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
    ("live"), one event per batch each on a fresh worker ("restarts": what a worker remembers
    must agree with what the rollups say after a restart), or one event per batch on two workers
    ("two workers": a Redis bus's consumer group spreads a member's events over them; here each
    member's events go to the two in turn)."""
    await Recorder(store).handle_batch(events)
    shared = mode == "two workers"
    workers = [ActivityCounters(store, UTC, shared_writers=shared) for _ in range(2 if shared else 1)]
    seen: Counter[str] = Counter()
    for batch in [list(events)] if mode == "one batch" else [[e] for e in events]:
        who = _actor(batch[0])
        seen[who] += 1
        counters = ActivityCounters(store, UTC) if mode == "restarts" else workers[seen[who] % len(workers)]
        await counters.apply(batch)


def _actor(event: Event) -> str:
    """Who acted: a message's author, a reaction's member (a delete names nobody)."""
    for attr in ("author", "user"):
        ref = getattr(event, attr, None)
        if ref is not None:
            return str(ref.user_id)
    return ""


async def totals(store: Store, who: str) -> dict[str, int]:
    """``who``'s counters summed over every rollup row."""
    row = await store.db.fetchone(
        f"SELECT {', '.join(f'SUM({c})' for c in COUNTERS)} FROM activity_rollup WHERE user_id = ?", (who,)
    )
    return {c: int(v or 0) for c, v in zip(COUNTERS, row or (), strict=False)}
