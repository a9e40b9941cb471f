"""The daily and per-minute caps hold over every worker: a Redis bus's consumer group spreads one
member's events over its workers, and each worker alone allowing the full cap multiplied it."""

from __future__ import annotations

import pytest

from bot.events import Event
from bot.store import Store
from bot.testing import make_message
from brain.activity.scoring import REPLY_THREADS_PER_DAY
from tests.unit.activity.counting import ANSWER, apply, totals


@pytest.mark.parametrize("mode", ["live", "two workers"])
async def test_reply_credits_per_day(store: Store, mode: str) -> None:
    events: list[Event] = []
    for n in range(REPLY_THREADS_PER_DAY + 6):  # one reply to each of more threads than the day allows
        q = f"q{n}"
        events.append(
            make_message("how do I pin a version?", author=f"asker{n}", chan="help", message_id=q, minutes=n * 3)
        )
        events.append(
            make_message(ANSWER, author="farmer", chan="help", message_id=f"a{n}", thread_id=q, minutes=n * 3 + 1)
        )
    await apply(store, events, mode=mode)
    farmer = await totals(store, "farmer")
    assert farmer["replies"] == REPLY_THREADS_PER_DAY
    assert farmer["messages"] == REPLY_THREADS_PER_DAY + 6  # volume still shows


@pytest.mark.parametrize("mode", ["live", "two workers"])
async def test_messages_per_minute(store: Store, mode: str) -> None:
    events: list[Event] = [
        make_message(f"{ANSWER} number {i}", author="spammer", chan="help", message_id=f"s{i}", minutes=1)
        for i in range(8)
    ]
    events.append(make_message(f"{ANSWER} later", author="spammer", chan="help", message_id="s-late", minutes=2))
    await apply(store, events, mode=mode)
    assert (await totals(store, "spammer"))["messages"] == 5 + 1  # per_minute_cap 5, then a new minute
