"""Unusual Slack payloads through a real Bolt ``AsyncApp`` against the fake Web API.

Slack sends shapes the happy path never shows: the tombstone left when a thread's root is deleted,
messages whose words are only in ``blocks``, payloads missing fields Bolt's matchers do not need.
None of them may crash a listener or be stored as something they are not.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
from slack_bolt.request.async_request import AsyncBoltRequest

from adapters.slack.adapter import SlackAdapter
from bot.app import GuildhallApp
from bot.brain import Brain, CommandResult, command, listen
from bot.events import ButtonClicked, CommandInvoked, MessagePosted
from tests.slack_fakes import (
    TEAM_ID,
    FakeSlackAPI,
    adapter_settings,
    envelope,
    message_event,
    settle_bolt,
    slash_form,
)

ROOT_TS = "1767600000.000100"


class RecordingBrain(Brain):
    """Records what reaches brains and answers ``/ask`` with the text it got."""

    name = "recording"
    posted: ClassVar[list[MessagePosted]] = []
    invoked: ClassVar[list[CommandInvoked]] = []
    clicks: ClassVar[list[ButtonClicked]] = []

    @listen(MessagePosted)
    async def on_message(self, event: MessagePosted) -> None:
        RecordingBrain.posted.append(event)

    @listen(ButtonClicked)
    async def on_click(self, event: ButtonClicked) -> None:
        RecordingBrain.clicks.append(event)

    @command("ask", description="Ask a question")
    async def ask(self, cmd: CommandInvoked) -> CommandResult:
        RecordingBrain.invoked.append(cmd)
        return CommandResult(f"you asked: {cmd.text!r}")


@dataclass
class Harness:
    app: GuildhallApp
    adapter: SlackAdapter
    fake: FakeSlackAPI

    async def dispatch(self, body: Mapping[str, Any]) -> int:
        resp = await self.adapter.app.async_dispatch(AsyncBoltRequest(mode="socket_mode", body=dict(body)))
        await settle_bolt()
        await self.app.bus.drain()
        return resp.status


@pytest.fixture
async def slack(make_app: Any, tmp_path: Path) -> AsyncIterator[Harness]:
    RecordingBrain.posted, RecordingBrain.invoked, RecordingBrain.clicks = [], [], []
    fake = await FakeSlackAPI().start()
    settings = adapter_settings(tmp_path)
    app, _ = await make_app(settings_override=settings, extra_brains=[RecordingBrain])
    adapter = SlackAdapter(settings, store=app.store, client_base_url=fake.url)
    app.add_adapter(adapter)
    yield Harness(app, adapter, fake)
    await fake.stop()


def changed(
    message: dict[str, Any] | None, previous: dict[str, Any] | None, ts: str = "1767600900.000200"
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "message",
        "subtype": "message_changed",
        "channel": "CGENERAL",
        "channel_type": "channel",
        "hidden": True,
        "ts": ts,
        "event_ts": ts,
    }
    if message is not None:
        event["message"] = message
    if previous is not None:
        event["previous_message"] = previous
    return event


async def test_deleting_a_thread_root_with_replies_deletes_it(slack: Harness) -> None:
    await slack.dispatch(envelope(message_event("root with a secret", ts=ROOT_TS), event_id="Ev1"))
    # A root with replies is not deleted but replaced by a tombstone, sent as message_changed.
    tombstone = {
        "type": "message",
        "subtype": "tombstone",
        "text": "This message was deleted.",
        "user": "USLACKBOT",
        "hidden": True,
        "ts": ROOT_TS,
        "thread_ts": ROOT_TS,
        "reply_count": 1,
    }
    previous = {"type": "message", "user": "UALICE", "text": "root with a secret", "ts": ROOT_TS, "thread_ts": ROOT_TS}
    await slack.dispatch(envelope(changed(tombstone, previous), event_id="Ev2"))
    row = await slack.app.store.get_message("slack", TEAM_ID, f"CGENERAL:{ROOT_TS}")
    assert row is not None and row.deleted and row.text == "" and row.author_id == "UALICE"


async def test_message_changed_without_message_is_skipped(slack: Harness) -> None:
    assert await slack.dispatch(envelope(changed(None, {"type": "message", "text": "x", "ts": ROOT_TS}))) == 200
    assert await slack.dispatch(envelope(changed(None, None), event_id="Ev2")) == 200


async def test_edit_in_a_thread_keeps_the_thread(slack: Harness) -> None:
    reply_ts = "1767600100.000200"
    await slack.dispatch(envelope(message_event("v1", ts=reply_ts, thread_ts=ROOT_TS), event_id="Ev1"))
    edit = {
        "type": "message",
        "user": "UALICE",
        "text": "v2",
        "ts": reply_ts,
        "thread_ts": ROOT_TS,
        "edited": {"user": "UALICE", "ts": "1767600150.000000"},
    }
    await slack.dispatch(envelope(changed(edit, {**edit, "text": "v1"}), event_id="Ev2"))
    row = await slack.app.store.get_message("slack", TEAM_ID, f"CGENERAL:{reply_ts}")
    assert row is not None and row.text == "v2" and row.thread_id == f"CGENERAL:{ROOT_TS}"


async def test_blocks_only_message_keeps_its_words(slack: Harness) -> None:
    event = {
        **message_event("", ts="1767600200.000100"),
        "blocks": [
            {
                "type": "rich_text",
                "block_id": "b1",
                "elements": [
                    {
                        "type": "rich_text_section",
                        "elements": [
                            {"type": "text", "text": "deploys need "},
                            {"type": "link", "url": "https://wiki.test/deploy", "text": "the runbook"},
                        ],
                    }
                ],
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": "ask in #ops"}},
        ],
    }
    await slack.dispatch(envelope(event))
    row = await slack.app.store.get_message("slack", TEAM_ID, "CGENERAL:1767600200.000100")
    assert row is not None and "deploys need" in row.text and "runbook" in row.text and "ask in #ops" in row.text


async def test_slash_command_with_empty_text(slack: Harness) -> None:
    assert await slack.dispatch(slash_form("/ask", "", response_url=slack.fake.hook_url("c1"))) == 200
    assert [c.text for c in RecordingBrain.invoked] == [""]
    assert slack.fake.hook_posts


async def test_block_actions_without_actions_or_channel(slack: Harness) -> None:
    body = {
        "type": "block_actions",
        "user": {"id": "UALICE", "team_id": TEAM_ID},
        "team": {"id": TEAM_ID},
        "container": {"type": "message", "message_ts": ROOT_TS, "channel_id": "CGENERAL"},
        "trigger_id": "t1",
        "actions": [],
    }
    await slack.dispatch(body)
    assert RecordingBrain.clicks == []


async def test_lone_surrogate_text(slack: Harness) -> None:
    await slack.dispatch(envelope(message_event("half \ud83d emoji", ts="1767600300.000100")))
    row = await slack.app.store.get_message("slack", TEAM_ID, "CGENERAL:1767600300.000100")
    assert row is not None and row.text == "half \ufffd emoji"


async def test_message_without_user_or_ts(slack: Harness) -> None:
    event = message_event("no user", ts="1767600400.000100")
    event.pop("user")
    assert await slack.dispatch(envelope(event)) == 200
    event2 = message_event("no ts")
    event2.pop("ts")
    assert await slack.dispatch(envelope(event2, event_id="Ev2")) == 200
