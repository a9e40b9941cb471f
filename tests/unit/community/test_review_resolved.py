"""The asker saying their problem is gone (review, round 4).

"It works now, but thanks", "ok I got it working but thanks anyway" and "Found the issue: ..." were
no resolution: the "but" of a thank-you counted as more trouble, and finding the cause was not
known. The bot then answered a question its asker had settled.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.clock import FakeClock
from bot.testing import ScriptedLLM, make_message
from bot.testing.builders import BASE_TIME
from brain.community.signals import is_resolved
from tests.unit.community.test_community_brain import (
    HELP,
    community_settings,
    echo_first_source,
    post,
    seed_history,
    sent,
    start,
)

__all__ = ["community_settings"]  # the fixture, imported for pytest


@pytest.mark.parametrize(
    "text",
    [
        "It works now, but thanks",
        "ok I got it working but thanks anyway",
        "got it working, but thank you for your help!",
        "Found the issue: a stale lock file",
        "found the problem, it was the cache",
        "figured out the problem",
        "Found the issue, thanks for the help",
    ],
)
def test_the_asker_saying_it_is_solved(text: str) -> None:
    assert is_resolved(text)


@pytest.mark.parametrize(
    "text",
    [
        "it works now but I get another error",
        "It works now but thanks, now the build fails",
        "works now, but thanks! one more error though",
        "I found the issue but not sure how to fix it",
        "Found the issue: it was the cache. But now poetry lock fails",
        "I think I found the issue",
        # Finding something on the way is no resolution (the asker adds detail while waiting).
        "Found the bug report upstream, it is issue 1234 on their tracker",
        "found the fix in the docs, now the build fails with a new error",
        "Tracked down the cause to the proxy. Any clue how to bypass it",
        "found my problem in the logs: the proxy drops the connection",
        "found the docs",
        "found the issue, any ideas how to fix it",
        "thanks, still the same error",
        "found the issue?",
    ],
)
def test_the_asker_still_stuck(text: str) -> None:
    assert not is_resolved(text)


@pytest.mark.parametrize("text", ["Found the issue: a stale lock file", "It works now, but thanks"])
async def test_a_question_its_asker_settled_is_not_answered(make_app, community_settings, text: str) -> None:
    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, community_settings, ScriptedLLM(echo_first_source), clock)
    await seed_history(app, adapter)
    ask = make_message("how do I pin a dependency version with poetry?", author="dan", chan=HELP, message_id="r1")
    await post(app, adapter, ask)
    await post(app, adapter, make_message(text, author="dan", chan=HELP, message_id="r2", thread_id="r1", minutes=2))
    await clock.advance(timedelta(minutes=11))
    await app.bus.drain()
    assert sent(adapter) == []
