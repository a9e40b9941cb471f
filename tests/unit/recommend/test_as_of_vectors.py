"""``recommend(as_of=True)`` (``guildhall recommend --as-of T``) uses only what was written before T.

The QA index's unit of a thread is built from the thread as stored now, replies after T included:
a replay must not read its vectors from there.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.clock import FakeClock
from bot.conversations import chunk_unit_id, thread_unit_base
from bot.testing.builders import BASE_TIME, make_message, user
from brain.recommend.brain import RecommendBrain

AS_OF = BASE_TIME + timedelta(hours=3)
THREADS = {
    "t1": ("django migrations keep failing on postgres", "try squashing the migrations"),
    "t2": ("rust borrow checker complains about lifetimes", "add an explicit lifetime parameter"),
    "x0": ("vim keybindings for python editing", "me too"),
    "x1": ("docker compose networking trouble", "me too"),
    "x2": ("pandas dataframe merge is slow", "me too"),
}
LATE_REPLY = "asyncio asyncio event loop asyncio tasks await asyncio"  # alice's topic, posted after AS_OF


async def _replay(make_app: Any, *, late_reply: bool) -> tuple[list[tuple[str, float]], bytes]:
    """Alice's ranking as of :data:`AS_OF`, and the QA index's stored vector of thread t2."""
    app, adapter = await make_app(brains=["qa", "recommend"], clock=FakeClock(AS_OF))
    brain = app.brain("recommend")
    assert isinstance(brain, RecommendBrain)
    messages = [make_message("I love asyncio and await syntax, asyncio tasks everywhere", chan="python", minutes=1)]
    for n, (root, (question, answer)) in enumerate(THREADS.items()):
        messages.append(
            make_message(question, author=f"u{n}", chan="python", message_id=root, thread_id=root, minutes=2 + n)
        )
        messages.append(make_message(answer, author=f"v{n}", chan="python", thread_id=root, minutes=2.5 + n))
    if late_reply:
        messages.append(make_message(LATE_REPLY, author="erin", chan="python", thread_id="t2", minutes=4 * 60))
    for m in messages:
        await adapter.inject(m)
    await app.bus.drain()
    await app.brain("qa").flush_index()
    index = await app.ctx.services.get("unit_index")
    unit = chunk_unit_id(thread_unit_base("console", "local", "t2"))
    stored = (await index.vectors([unit]))[unit]
    recs = await brain.recommend(user("alice"), k=5, as_of=True)
    return [(r.thread_id, round(r.score, 6)) for r in recs], stored.tobytes()


async def test_a_reply_after_as_of_changes_no_score(make_app: Any) -> None:
    without, indexed_without = await _replay(make_app, late_reply=False)
    with_late, indexed_with = await _replay(make_app, late_reply=True)
    assert indexed_without != indexed_with  # the index did read the later reply
    assert len(without) == len(THREADS)
    assert with_late == without
