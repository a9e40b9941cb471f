"""The bot's own Slack messages are recorded as chat.postMessage answered them.

Bolt drops our own message events, so before this an answer the bot posted never reached the
store, and a 👍 on it could not be told from one on anything else: reactions on Slack answers were
never feedback (buttons were). A real Bolt ``AsyncApp`` against the fake Web API, the QA brain
answering a mention in a public channel from what Bob posted there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from slack_bolt.request.async_request import AsyncBoltRequest

from adapters.slack.adapter import SlackAdapter
from adapters.slack.normalize import NormalizeContext, SlackIdentity, normalize_message
from adapters.slack.payloads import SlackMessage
from bot.app import GuildhallApp
from bot.clock import FakeClock
from bot.events import ChannelRef, MessagePosted, Platform, SendMessage, UserRef, Visibility
from bot.testing import ScriptedLLM
from brain.qa.shown import REMOVED_COPY
from tests.slack_fakes import (
    BOT_ID,
    BOT_USER_ID,
    TEAM_ID,
    TEAM_URL,
    FakeSlackAPI,
    adapter_settings,
    envelope,
    message_event,
    settle_bolt,
)
from tests.unit.adapters.slack.test_dm_scope import echo_first_source

ANSWERED = "restart the worker with systemctl restart guild-worker"


def reaction(user: str, ts: str, *, emoji: str = "+1", event_ts: str = "1767609000.000100") -> dict[str, Any]:
    return {
        "type": "reaction_added",
        "user": user,
        "reaction": emoji,
        "item_user": BOT_USER_ID,
        "item": {"type": "message", "channel": "CGENERAL", "ts": ts},
        "event_ts": event_ts,
    }


@pytest.fixture
async def slack(make_app: Any, tmp_path: Path) -> AsyncIterator[tuple[GuildhallApp, SlackAdapter, FakeSlackAPI]]:
    fake = await FakeSlackAPI().start()
    settings = adapter_settings(tmp_path)
    # The clock at the fake Web API's time: an answer is logged when its copy is posted.
    clock = FakeClock(datetime.fromtimestamp(1767600000, UTC))
    app, _ = await make_app(settings_override=settings, brains=["qa"], llm=ScriptedLLM(echo_first_source), clock=clock)
    adapter = SlackAdapter(settings, store=app.store, client_base_url=fake.url)
    app.add_adapter(adapter)
    yield app, adapter, fake
    await fake.stop()


async def dispatch(app: GuildhallApp, adapter: SlackAdapter, body: dict[str, Any]) -> None:
    await adapter.app.async_dispatch(AsyncBoltRequest(mode="socket_mode", body=body))
    await settle_bolt()
    await app.bus.drain()


async def test_a_reaction_on_a_posted_answer_is_feedback(
    slack: tuple[GuildhallApp, SlackAdapter, FakeSlackAPI],
) -> None:
    app, adapter, fake = slack
    await dispatch(app, adapter, envelope(message_event(ANSWERED, user="UBOB"), event_id="Ev1"))
    question = message_event(
        f"<@{BOT_USER_ID}> how do I restart the worker?", user="UALICE", ts="1767607200.000100", type="app_mention"
    )
    await dispatch(app, adapter, envelope(question, event_id="Ev2"))
    [posted] = fake.calls_to("chat.postMessage")
    assert "systemctl restart guild-worker" in posted["text"]
    rows = await app.store.db.fetchall("SELECT message_id, author_id, thread_id, text FROM messages WHERE is_bot = 1")
    assert len(rows) == 1 and rows[0][1] == BOT_USER_ID and "guild-worker" in rows[0][3]
    answer_ts = str(rows[0][0]).split(":", 1)[1]  # the ts chat.postMessage answered

    await dispatch(app, adapter, envelope(reaction("UCAROL", answer_ts), event_id="Ev3"))
    await dispatch(app, adapter, envelope(reaction("UDAVE", "1767600000.000100", emoji="-1"), event_id="Ev4"))
    [(answer_id,)] = await app.store.db.fetchall("SELECT answer_id FROM qa_answers")
    votes = [(r[2], r[4], r[5]) for r in await app.store.feedback("qa")]
    assert votes == [("UCAROL", answer_id, "up")]  # dave's 👎 was on bob's message, no answer


def test_our_own_message_is_a_bots_and_asks_nothing() -> None:
    """Recorded as a bot's message naming no one to answer: an answer quoting "@guildhall", or
    posted in a DM, is not taken for a question (the bot would answer itself)."""
    me = SlackIdentity(TEAM_ID, BOT_USER_ID, BOT_ID, TEAM_URL)
    ctx = NormalizeContext(me, {})
    answer: SlackMessage = {
        "type": "message",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "ts": "1767607300.000100",
        "text": f"ask <@{BOT_USER_ID}> in #help [1]",
    }
    assert normalize_message(answer, "DBOB", "im", ctx) is None  # an event Bolt let through: still ours
    own = normalize_message(answer, "DBOB", "im", ctx, own=True)
    assert own is not None and own.author.is_bot and not own.mentions_bot
    assert own.message_id == "DBOB:1767607300.000100" and own.author.user_id == BOT_USER_ID


async def test_a_failed_record_of_our_own_message_does_not_fail_the_posted_answer(
    slack: tuple[GuildhallApp, SlackAdapter, FakeSlackAPI],
) -> None:
    """The answer is out: an error recording its copy (the bus refusing the write) failed the
    action, and the bus would deliver it again and post the answer twice."""
    _, adapter, fake = slack
    real = adapter._bus

    class RefusingBus:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        async def publish(self, event: Any) -> bool:
            if isinstance(event, MessagePosted):
                raise RuntimeError("WRONGTYPE Operation against a key holding the wrong kind of value")
            return await real.publish(event)  # type: ignore[union-attr]

    adapter._bus = RefusingBus()
    general = ChannelRef(Platform.SLACK, TEAM_ID, "CGENERAL", "general", Visibility.PUBLIC)
    await adapter._send_message(SendMessage(channel=general, text="hello there"))  # no error
    assert len(fake.calls_to("chat.postMessage")) == 1


async def test_forget_me_of_the_quoted_member_leaves_no_copy_of_their_words(
    slack: tuple[GuildhallApp, SlackAdapter, FakeSlackAPI],
) -> None:
    """The answer quoting bob leaves the log on bob's /forget-me; its stored copy (the bot's own
    message) kept quoting him. The copy is kept as a removed answer, so a reaction on it is still
    told from one on anything else."""
    app, adapter, fake = slack
    await dispatch(app, adapter, envelope(message_event(ANSWERED, user="UBOB"), event_id="Ev1"))
    question = message_event(
        f"<@{BOT_USER_ID}> how do I restart the worker?", user="UALICE", ts="1767607200.000100", type="app_mention"
    )
    await dispatch(app, adapter, envelope(question, event_id="Ev2"))
    assert fake.calls_to("chat.postMessage")
    await app.brain("core").forget(UserRef(Platform.SLACK, TEAM_ID, "UBOB"))  # type: ignore[attr-defined]
    await app.bus.drain()
    assert await app.store.db.fetchall("SELECT answer_id FROM qa_answers") == []
    copies = await app.store.db.fetchall("SELECT text FROM messages WHERE is_bot = 1")
    assert copies == [(REMOVED_COPY,)]
