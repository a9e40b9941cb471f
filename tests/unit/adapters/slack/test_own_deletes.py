"""Deleting the bot's own answer in Slack reaches the store; nothing else of our own starts to count.

Bolt's self-event filter dropped ``message_deleted`` for a message the bot posted (Bolt takes the
event's user from ``previous_message``): the stored copy of a deleted answer, which may quote
members, stayed. The adapter drops its own events itself and lets deletes and changes of its
messages through; ``normalize.py`` ignores its own posts, edits and reactions. A real Bolt
``AsyncApp`` against the fake Web API, the QA brain answering a mention as in ``test_own_messages``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from slack_bolt.request.async_request import AsyncBoltRequest

from adapters.slack.adapter import SlackAdapter
from bot.app import GuildhallApp
from bot.clock import FakeClock
from bot.events import InboundEvent, MessageDeleted, MessageEdited, MessagePosted, ReactionAdded, ReactionRemoved
from bot.testing import ScriptedLLM
from tests.slack_fakes import (
    BOT_ID,
    BOT_USER_ID,
    TEAM_ID,
    FakeSlackAPI,
    adapter_settings,
    envelope,
    message_event,
    settle_bolt,
)
from tests.unit.adapters.slack.test_dm_scope import echo_first_source

Slack = tuple[GuildhallApp, SlackAdapter, FakeSlackAPI]


@pytest.fixture
async def slack(make_app: Any, tmp_path: Path) -> AsyncIterator[Slack]:
    fake = await FakeSlackAPI().start()
    settings = adapter_settings(tmp_path)
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


def collect(app: GuildhallApp) -> list[InboundEvent]:
    seen: list[InboundEvent] = []

    async def record(event: InboundEvent) -> None:
        seen.append(event)

    for kind in (MessagePosted, MessageEdited, MessageDeleted, ReactionAdded, ReactionRemoved):
        app.bus.subscribe(kind, record, name=f"test.own.{kind.__name__}")
    return seen


async def answered(app: GuildhallApp, adapter: SlackAdapter) -> str:
    """Bob's post, then the bot's answer to alice's mention; the answer's ts."""
    text = "restart the worker with systemctl restart guild-worker"
    await dispatch(app, adapter, envelope(message_event(text, user="UBOB"), event_id="Ev1"))
    question = message_event(
        f"<@{BOT_USER_ID}> how do I restart the worker?", user="UALICE", ts="1767607200.000100", type="app_mention"
    )
    await dispatch(app, adapter, envelope(question, event_id="Ev2"))
    [(message_id,)] = await app.store.db.fetchall("SELECT message_id FROM messages WHERE is_bot = 1")
    return str(message_id).split(":", 1)[1]


async def test_deleting_the_bots_answer_deletes_its_stored_copy(slack: Slack) -> None:
    app, adapter, _ = slack
    ts = await answered(app, adapter)
    seen = collect(app)
    deleted = {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "channel": "CGENERAL",
        "channel_type": "channel",
        "ts": "1767609999.000200",
        "event_ts": "1767609999.000200",
        "deleted_ts": ts,
        "previous_message": {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "text": "x", "ts": ts},
    }
    await dispatch(app, adapter, envelope(deleted, event_id="Ev9"))
    assert [type(e) for e in seen] == [MessageDeleted]
    row = await app.store.get_message("slack", TEAM_ID, f"CGENERAL:{ts}")
    assert row is not None and row.deleted and row.text == ""


async def test_our_own_posts_edits_and_reactions_still_count_for_nothing(slack: Slack) -> None:
    app, adapter, fake = slack
    ts = await answered(app, adapter)
    seen = collect(app)
    echo = message_event("restart the worker [1]", user=BOT_USER_ID, ts=ts)
    echo["bot_id"] = BOT_ID
    await dispatch(app, adapter, envelope(echo, event_id="Ev10"))
    own_mention = message_event(f"<@{BOT_USER_ID}> ask me", user=BOT_USER_ID, ts="1767609000.000300")
    own_mention["bot_id"] = BOT_ID
    await dispatch(app, adapter, envelope(own_mention, event_id="Ev11"))
    edit = {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": "CGENERAL",
        "channel_type": "channel",
        "ts": "1767609100.000100",
        "event_ts": "1767609100.000100",
        "message": {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "text": "edited answer",
            "ts": ts,
            "edited": {"user": BOT_USER_ID, "ts": "1767609100.000100"},
        },
        "previous_message": {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "text": "answer", "ts": ts},
    }
    await dispatch(app, adapter, envelope(edit, event_id="Ev12"))
    for kind in ("reaction_added", "reaction_removed"):
        own = {
            "type": kind,
            "user": BOT_USER_ID,
            "reaction": "+1",
            "item_user": "UBOB",
            "item": {"type": "message", "channel": "CGENERAL", "ts": "1767600000.000100"},
            "event_ts": "1767609200.000100",
        }
        await dispatch(app, adapter, envelope(own, event_id=f"Ev-{kind}"))
    assert seen == []
    assert len(fake.calls_to("chat.postMessage")) == 1  # the bot did not answer itself
    assert await app.store.feedback("qa") == []
