"""Credits follow the facts after the fact: a thanks deleted or edited away, a ✅ removed while a
thanks still stands, the reaction cap as a setting, and /forget-me recounting the reactions the
forgotten member gave.

Through the real app (its store: SQLite, or PostgreSQL with ``GUILDHALL_TEST_STORE=postgresql``);
each conversation is fed in one batch and one event per batch, as live traffic arrives.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from bot.clock import FakeClock
from bot.config import ActivitySettings, Settings
from bot.events import Event, MessageDeleted, MessageEdited, ReactionAdded, ReactionRemoved
from bot.testing import make_message
from bot.testing.builders import BASE_TIME, channel, command, user
from tests.conftest import AppFactory
from tests.unit.activity.test_credit_rules import ANSWER, answer_of, apply, question, react, run, say, totals
from tests.unit.activity.test_weekly_post import tuned


@pytest.fixture(params=["one batch", "live"])
def live(request: pytest.FixtureRequest) -> bool:
    return request.param == "live"


def deleted(mid: str, minutes: float) -> MessageDeleted:
    return MessageDeleted(channel=channel("help"), message_id=mid, deleted_at=BASE_TIME + timedelta(minutes=minutes))


def edited(mid: str, text: str, minutes: float) -> MessageEdited:
    return MessageEdited(
        channel=channel("help"), message_id=mid, text=text, edited_at=BASE_TIME + timedelta(minutes=minutes)
    )


async def marks(app, who: str = "helper") -> tuple[int, int]:  # type: ignore[no-untyped-def]
    got = await totals(app, who)
    return got["helpful"], got["answered"]


# -- 1. a thanks deleted or edited away takes back what it gave -----------------------------------------
async def test_a_deleted_thanks_takes_back_the_mark_and_the_answer_it_gave(make_app: AppFactory, live: bool) -> None:
    conversation = [question(), say(ANSWER, "helper", "h", 1), say("thanks, that worked!", "asker", "t", 2)]
    app = await run(make_app, [*conversation, deleted("t", 3)], live=live)
    assert await marks(app) == (0, 0) and await answer_of(app, "q") == ""
    await apply(app, deleted("t", 3))  # redelivered
    assert await marks(app) == (0, 0)
    # The question is open again: the asker's ✅ gives both back, once.
    await apply(app, react("h", "asker", 4))
    await apply(app, react("h", "asker", 4))
    assert await marks(app) == (1, 1) and await answer_of(app, "q") == "h"


async def test_a_deleted_thanks_leaves_the_answer_an_earlier_follow_up_gave(make_app: AppFactory, live: bool) -> None:
    app = await run(
        make_app,
        [
            question(),
            say(ANSWER, "helper", "h", 1),
            say("ok let me try that", "asker", "f", 2),  # takes the reply up: answered
            say("thanks, that worked!", "asker", "t", 3),  # marks it: helpful
            deleted("t", 4),
        ],
        live=live,
    )
    assert await marks(app) == (0, 1) and await answer_of(app, "q") == "h"


async def test_a_thanks_edited_away_takes_back_what_it_gave(make_app: AppFactory, live: bool) -> None:
    conversation = [question(), say(ANSWER, "helper", "h", 1), say("thanks, that worked!", "asker", "t", 2)]
    app = await run(make_app, [*conversation, edited("t", "thanks, that worked! (v2.1)", 3)], live=live)
    assert await marks(app) == (1, 1)  # still a thanks
    await apply(app, edited("t", "nope, still the same error", 4))
    await apply(app, edited("t", "nope, still the same error", 4))  # redelivered
    assert await marks(app) == (0, 0) and await answer_of(app, "q") == ""
    assert (await totals(app, "helper"))["replies"] == 1  # the reply itself still counts


async def test_a_check_mark_removed_leaves_what_a_standing_thanks_gave(make_app: AppFactory, live: bool) -> None:
    app = await run(
        make_app,
        [
            question(),
            say(ANSWER, "helper", "h", 1),
            react("h", "asker", 2),
            say("thanks, that worked!", "asker", "t", 3),
            react("h", "asker", 4, added=False),
        ],
        live=live,
    )
    assert await marks(app) == (1, 1) and await answer_of(app, "q") == "h"
    # Then the thanks goes too: nothing marks the reply any more.
    await apply(app, deleted("t", 5))
    assert await marks(app) == (0, 0) and await answer_of(app, "q") == ""


async def test_a_deleted_thanks_leaves_what_a_standing_check_mark_gave(make_app: AppFactory, live: bool) -> None:
    app = await run(
        make_app,
        [
            question(),
            say(ANSWER, "helper", "h", 1),
            say("thanks, that worked!", "asker", "t", 2),
            react("h", "asker", 3),
            deleted("t", 4),
        ],
        live=live,
    )
    assert await marks(app) == (1, 1) and await answer_of(app, "q") == "h"
    await apply(app, react("h", "asker", 5, added=False))
    assert await marks(app) == (0, 0)


# -- 2. the daily reaction cap is a setting ------------------------------------------------------------
async def test_the_reaction_cap_is_a_setting(make_app: AppFactory, settings: Settings) -> None:
    app, adapter = await make_app(
        brains=["activity"],
        clock=FakeClock(BASE_TIME + timedelta(hours=2)),
        settings_override=tuned(settings, reactions_per_day=3),
    )
    for i in range(5):
        await adapter.inject(
            make_message(f"a long enough message number {i}", author="poster", message_id=f"m{i}", minutes=i)
        )
        await adapter.inject(ReactionAdded(channel("general"), f"m{i}", user("alt"), "heart", BASE_TIME))
    await app.bus.drain()
    board = await app.brain("activity").board("console", "local", "week")  # type: ignore[attr-defined]
    poster = next(e for e in board.entries if e.user_id == "poster")
    assert (poster.score, poster.counts["reactions"], board.totals["reactions"]) == (3.0, 3, 5)


def test_the_reaction_cap_must_be_positive() -> None:
    assert ActivitySettings().reactions_per_day == 10
    with pytest.raises(ValidationError):
        ActivitySettings(reactions_per_day=0)


# -- 3. /forget-me: the reactions the member gave stop counting ------------------------------------------
async def test_forget_me_recounts_the_reactions_the_member_gave(make_app: AppFactory) -> None:
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(BASE_TIME + timedelta(hours=2)))
    events: list[Event] = []
    for i in range(3):
        events.append(make_message(f"a long enough message number {i}", author="poster", message_id=f"m{i}"))
        events += [ReactionAdded(channel("general"), f"m{i}", user(who), "heart", BASE_TIME) for who in ("alt", "pal")]
    for e in events:
        await adapter.inject(e)
    await app.bus.drain()
    assert (await totals(app, "poster"))["reactions"] == 6
    await adapter.inject(command("forget-me", "confirm", author="alt"))
    await app.bus.drain()
    assert (await totals(app, "poster"))["reactions"] == 3
    stored = await app.store.db.fetchone("SELECT SUM(reactions) FROM activity_contrib WHERE author_id = 'poster'")
    assert stored is not None and int(stored[0]) == 3  # the contribution rows agree: later removals stay exact
    await app.brain("core").forget(user("alt"), repeat=True)  # type: ignore[attr-defined]
    assert (await totals(app, "poster"))["reactions"] == 3
    await adapter.inject(ReactionRemoved(channel("general"), "m0", user("pal"), "heart", BASE_TIME))
    await app.bus.drain()
    assert (await totals(app, "poster"))["reactions"] == 2
