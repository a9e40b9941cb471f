"""One draft per question in shadow mode (review, round 4).

The asker mentioning the bot in their question's thread drafted a second answer to the question:
after the wait had drafted one (still pending), or before the wait ended (the timer then drafted
another). The moderators got two drafts of one answer.
"""

from __future__ import annotations

from datetime import timedelta

from bot.clock import FakeClock
from bot.config import Settings
from bot.testing import ScriptedLLM, make_message
from bot.testing.builders import BASE_TIME
from tests.unit.community.test_community_brain import (
    HELP,
    community_settings,
    echo_first_source,
    first_shadow_draft,
    post,
    sent,
    shadow_mode_in_help,
    start,
)

__all__ = ["community_settings"]  # the fixture, imported for pytest


def asker_mention(minutes: float) -> object:
    return make_message(
        "@guildhall can you help with this?",
        author="dan",
        chan=HELP,
        message_id="d2",
        thread_id="d1",
        minutes=minutes,
        mentions_bot=True,
    )


async def drafts(app: object) -> list[tuple[str, str]]:
    rows = await app.store.db.fetchall("SELECT thread_id, status FROM community_drafts")  # type: ignore[attr-defined]
    return [(str(r[0]), str(r[1])) for r in rows]


async def test_a_mention_after_the_questions_draft_drafts_nothing_more(make_app, community_settings: Settings) -> None:
    app, adapter, _, _ = await first_shadow_draft(make_app, community_settings)
    await post(app, adapter, asker_mention(12))
    assert len(sent(adapter)) == 1
    assert await drafts(app) == [("d1", "pending")]


async def test_a_mention_before_the_wait_ends_is_the_questions_draft(make_app, community_settings: Settings) -> None:
    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, community_settings, ScriptedLLM(echo_first_source), clock)
    await shadow_mode_in_help(app, adapter)
    ask = make_message("how do I pin a dependency version with poetry?", author="dan", chan=HELP, message_id="d1")
    await post(app, adapter, ask)
    await post(app, adapter, asker_mention(2))
    assert len(sent(adapter)) == 1  # the mention's draft, in the question's thread
    await clock.advance(timedelta(minutes=11))
    await app.bus.drain()
    assert len(sent(adapter)) == 1
    assert await drafts(app) == [("d1", "pending")]
