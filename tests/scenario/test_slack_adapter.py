"""The Slack adapter end to end: a real Bolt AsyncApp against a fake Slack Web API.

Inbound payloads go through ``app.async_dispatch(AsyncBoltRequest(mode="socket_mode", ...))`` or as
signed HTTP POSTs to the adapter's running aiohttp endpoint; outbound calls are asserted on the
fake's recorded Web API calls.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import pytest
from slack_bolt.request.async_request import AsyncBoltRequest

from adapters.slack import render
from adapters.slack.adapter import SlackAdapter
from bot.app import GuildhallApp
from bot.brain import Brain, CommandResult, command, listen
from bot.config import Settings
from bot.events import (
    AddReaction,
    Attachment,
    Button,
    ButtonClicked,
    ChannelRef,
    Citation,
    CommandInvoked,
    MessagePosted,
    Platform,
    SendDirectMessage,
    SendEphemeral,
    SendMessage,
    UserRef,
    Visibility,
)
from tests.slack_fakes import (
    BOT_ID,
    BOT_USER_ID,
    SIGNING_SECRET,
    TEAM_ID,
    FakeSlackAPI,
    envelope,
    form_body,
    message_event,
    settle_bolt,
    signed_headers,
    slash_form,
)

GENERAL = ChannelRef(Platform.SLACK, TEAM_ID, "CGENERAL", "general")


class EchoBrain(Brain):
    """Answers mentions in thread and runs a slow /ask gated by the test."""

    name = "echo"
    gate: ClassVar[asyncio.Event | None] = None
    clicks: ClassVar[list[ButtonClicked]] = []

    @listen(MessagePosted)
    async def on_message(self, event: MessagePosted) -> None:
        if event.mentions_bot and not event.is_bot:
            await self.ctx.reply(event, f"echo: {event.text}")

    @listen(ButtonClicked)
    async def on_click(self, event: ButtonClicked) -> None:
        EchoBrain.clicks.append(event)

    @command("ask", description="Ask a question")
    async def ask(self, cmd: CommandInvoked) -> CommandResult:
        if EchoBrain.gate is not None:
            await EchoBrain.gate.wait()
        return CommandResult(
            f"answer to {cmd.text}", ephemeral=False, citations=(Citation(1, "Doc", "https://x.test/d"),)
        )


def click_payload(action_id: str, value: str, *, trigger_id: str) -> dict[str, Any]:
    """A block_actions payload: alice clicks a button on the bot's message in #general."""
    return {
        "type": "block_actions",
        "user": {"id": "UALICE", "username": "alice", "team_id": TEAM_ID},
        "team": {"id": TEAM_ID, "domain": "acme"},
        "channel": {"id": "CGENERAL", "name": "general"},
        "container": {"type": "message", "message_ts": "1767600000.000100", "channel_id": "CGENERAL"},
        "trigger_id": trigger_id,
        "response_url": "",
        "actions": [
            {"action_id": action_id, "block_id": "b1", "value": value, "type": "button", "action_ts": "1767600702.0001"}
        ],
    }


@dataclass
class Harness:
    app: GuildhallApp
    adapter: SlackAdapter
    fake: FakeSlackAPI

    async def dispatch(self, body: Mapping[str, Any]) -> int:
        """Socket Mode path: feed a payload to Bolt, wait for listeners and the bus."""
        resp = await self.adapter.app.async_dispatch(AsyncBoltRequest(mode="socket_mode", body=dict(body)))
        await self.settle()
        return resp.status

    async def settle(self) -> None:
        await settle_bolt()
        await self.app.bus.drain()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.adapter.http_port}/slack/events"

    async def post(self, body: str, headers: dict[str, str]) -> tuple[int, str]:
        async with aiohttp.ClientSession() as session, session.post(self.endpoint, data=body, headers=headers) as resp:
            return resp.status, await resp.text()

    async def post_event(self, payload: dict[str, object], **extra_headers: str) -> tuple[int, str]:
        body = json.dumps(payload)
        return await self.post(body, {**signed_headers(body, content_type="application/json"), **extra_headers})


def slack_settings(tmp_path: Path, **slack: object) -> Settings:
    return Settings.model_validate(
        {
            "data_dir": str(tmp_path),
            "store": {"url": "sqlite://:memory:"},
            "vectors": {"path": str(tmp_path / "chroma")},
            "llm": {"backend": "scripted", "warmup": False},
            "brains": [],
            "slack": {
                "bot_token": "xoxb-test",
                "signing_secret": SIGNING_SECRET,
                "mode": "http",
                "http_port": 0,
                "admin_usergroup_ids": ["SADMINS"],
                **slack,
            },
        }
    )


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlackAPI]:
    fake = await FakeSlackAPI().start()
    yield fake
    await fake.stop()


@pytest.fixture
async def slack(make_app: Any, tmp_path: Path, fake_slack: FakeSlackAPI) -> AsyncIterator[Harness]:
    EchoBrain.gate = None
    EchoBrain.clicks = []
    settings = slack_settings(tmp_path)
    app, _ = await make_app(settings_override=settings, extra_brains=[EchoBrain])
    adapter = SlackAdapter(settings, store=app.store, client_base_url=fake_slack.url)
    app.add_adapter(adapter)
    await adapter.start()
    yield Harness(app, adapter, fake_slack)
    await adapter.stop()


# --------------------------------------------------------------------------- inbound


async def test_mention_in_thread_is_stored_and_answered_in_that_thread(slack: Harness) -> None:
    event = message_event(
        f"<@{BOT_USER_ID}> how do I rotate logs? &amp; keep them", ts="1767600100.000200", thread_ts="1767600000.000100"
    )
    assert await slack.dispatch(envelope(event)) == 200

    row = await slack.app.store.get_message("slack", TEAM_ID, "CGENERAL:1767600100.000200")
    assert row is not None and row.thread_id == "CGENERAL:1767600000.000100"
    assert row.text.endswith("& keep them")
    assert row.permalink.startswith("https://acme.slack.com/archives/CGENERAL/p1767600100000200")
    posts = slack.fake.calls_to("chat.postMessage")
    assert len(posts) == 1
    assert posts[0]["channel"] == "CGENERAL" and posts[0]["thread_ts"] == "1767600000.000100"
    channel = await slack.app.store.get_channel("slack", TEAM_ID, "CGENERAL")
    assert channel is not None and channel.name == "general" and channel.visibility == "public"


async def test_root_mention_starts_a_thread_on_itself(slack: Harness) -> None:
    await slack.dispatch(envelope(message_event(f"hey <@{BOT_USER_ID}>", ts="1767600200.000100")))
    assert slack.fake.calls_to("chat.postMessage")[0]["thread_ts"] == "1767600200.000100"


async def test_app_mention_and_message_for_the_same_post_answer_once(slack: Harness) -> None:
    text = f"<@{BOT_USER_ID}> hi"
    mention = {
        "type": "app_mention",
        "user": "UALICE",
        "text": text,
        "ts": "1767600300.000100",
        "channel": "CGENERAL",
        "event_ts": "1767600300.000100",
    }
    await slack.dispatch(envelope(mention, event_id="Ev1"))
    await slack.dispatch(envelope(message_event(text, ts="1767600300.000100"), event_id="Ev2"))
    assert len(slack.fake.calls_to("chat.postMessage")) == 1


async def test_own_messages_are_ignored_and_other_bots_are_marked(slack: Harness) -> None:
    own = message_event(f"<@{BOT_USER_ID}> loop?", ts="1767600400.000100", user=BOT_USER_ID, bot_id=BOT_ID)
    other_bot = {
        **message_event(f"<@{BOT_USER_ID}> deploy done", ts="1767600401.000100"),
        "subtype": "bot_message",
        "bot_id": "BCI",
        "username": "ci",
    }
    other_bot.pop("user")
    await slack.dispatch(envelope(own, event_id="Ev1"))
    await slack.dispatch(envelope(other_bot, event_id="Ev2"))

    assert await slack.app.store.get_message("slack", TEAM_ID, "CGENERAL:1767600400.000100") is None
    row = await slack.app.store.get_message("slack", TEAM_ID, "CGENERAL:1767600401.000100")
    assert row is not None and row.is_bot and row.author_id == "BCI"
    assert slack.fake.calls_to("chat.postMessage") == []  # the brain never answers bots


async def test_edit_then_delete(slack: Harness) -> None:
    await slack.dispatch(envelope(message_event("first version", ts="1767600500.000100"), event_id="Ev1"))
    changed = {
        "type": "message",
        "subtype": "message_changed",
        "channel": "CGENERAL",
        "channel_type": "channel",
        "hidden": True,
        "ts": "1767600510.000200",
        "event_ts": "1767600510.000200",
        "message": {
            "type": "message",
            "user": "UALICE",
            "text": "second version",
            "ts": "1767600500.000100",
            "edited": {"user": "UALICE", "ts": "1767600510.000000"},
        },
        "previous_message": {"type": "message", "user": "UALICE", "text": "first version", "ts": "1767600500.000100"},
    }
    await slack.dispatch(envelope(changed, event_id="Ev2"))
    row = await slack.app.store.get_message("slack", TEAM_ID, "CGENERAL:1767600500.000100")
    assert row is not None and row.text == "second version" and row.edited_ts is not None

    deleted = {
        "type": "message",
        "subtype": "message_deleted",
        "channel": "CGENERAL",
        "channel_type": "channel",
        "hidden": True,
        "deleted_ts": "1767600500.000100",
        "ts": "1767600520.000300",
        "event_ts": "1767600520.000300",
        "previous_message": {"type": "message", "user": "UALICE", "text": "second version", "ts": "1767600500.000100"},
    }
    await slack.dispatch(envelope(deleted, event_id="Ev3"))
    row = await slack.app.store.get_message("slack", TEAM_ID, "CGENERAL:1767600500.000100")
    assert row is not None and row.deleted and row.text == ""


async def test_same_ts_in_two_channels_is_two_messages(slack: Harness) -> None:
    # Slack keeps a ts unique only within its channel: two busy channels can post the same ts.
    ts = "1767600600.000100"
    await slack.dispatch(envelope(message_event("in general", ts=ts), event_id="Ev1"))
    await slack.dispatch(envelope(message_event("in help", ts=ts, channel="CHELP"), event_id="Ev2"))
    reaction = {
        "type": "reaction_added",
        "user": "UBOB",
        "reaction": "eyes",
        "item": {"type": "message", "channel": "CHELP", "ts": ts},
        "item_user": "UALICE",
        "event_ts": "1767600601.000100",
    }
    await slack.dispatch(envelope(reaction, event_id="Ev3"))
    await slack.app.bus.drain()

    general = await slack.app.store.get_message("slack", TEAM_ID, f"CGENERAL:{ts}")
    help_ = await slack.app.store.get_message("slack", TEAM_ID, f"CHELP:{ts}")
    assert general is not None and general.text == "in general" and general.channel_id == "CGENERAL"
    assert help_ is not None and help_.text == "in help" and help_.channel_id == "CHELP"
    assert [r.user_id for r in await slack.app.store.reactions_for("slack", TEAM_ID, f"CHELP:{ts}")] == ["UBOB"]
    assert await slack.app.store.reactions_for("slack", TEAM_ID, f"CGENERAL:{ts}") == []


async def test_private_channel_without_type_is_looked_up_and_not_public(slack: Harness) -> None:
    reaction = {
        "type": "reaction_added",
        "user": "UALICE",
        "reaction": "+1::skin-tone-2",
        "item_user": "UBOB",
        "item": {"type": "message", "channel": "GSECRET", "ts": "1767600000.000100"},
        "event_ts": "1767600600.000100",
    }
    await slack.dispatch(envelope(reaction))
    channel = await slack.app.store.get_channel("slack", TEAM_ID, "GSECRET")
    assert channel is not None and channel.visibility == "private"
    assert len(slack.fake.calls_to("conversations.info")) == 1
    # members who never posted can still find what was said there; outsiders cannot
    assert "GSECRET" in await slack.app.store.readable_channel_ids("slack", TEAM_ID, "UCAROL")
    assert "GSECRET" not in await slack.app.store.readable_channel_ids("slack", TEAM_ID, "UMALLORY")
    # auth.test's team name names the community (digest headers, reports)
    assert await slack.app.store.db.fetchone("SELECT name FROM workspaces WHERE platform = 'slack'") == ("Acme",)


async def test_unreadable_member_list_never_empties_a_private_access_list(slack: Harness) -> None:
    await slack.app.store.set_channel_access("slack", TEAM_ID, "GSECRET", user_ids=["UALICE"])
    slack.fake.fail("conversations.members", "missing_scope", needed="groups:read")
    await slack.dispatch(envelope(message_event("hi", channel="GSECRET", channel_type="group", user="UBOB")))
    readable = await slack.app.store.readable_channel_ids("slack", TEAM_ID, "UALICE")
    assert "GSECRET" in readable
    row = await slack.app.store.get_channel("slack", TEAM_ID, "GSECRET")
    assert row is not None and row.visibility == "private"


async def test_a_member_who_leaves_a_private_channel_stops_reading_it(slack: Harness) -> None:
    """member_left_channel takes the leaver off the access list and re-reads the private channel's
    members: whoever left no longer gets answers from it, even when the re-read fails (the leaver
    kept reading it then); a public channel keeps no list."""
    await slack.dispatch(envelope(message_event("deploy key rotated", channel="GSECRET", channel_type="group")))
    assert "GSECRET" in await slack.app.store.readable_channel_ids("slack", TEAM_ID, "UCAROL")
    slack.fake.members["GSECRET"] = ["UALICE", "UBOB"]
    left = {"type": "member_left_channel", "user": "UCAROL", "channel": "GSECRET", "channel_type": "G", "team": TEAM_ID}
    await slack.dispatch(envelope(left, event_id="EvLeft1"))
    await slack.app.bus.drain()
    assert "GSECRET" not in await slack.app.store.readable_channel_ids("slack", TEAM_ID, "UCAROL")
    assert "GSECRET" in await slack.app.store.readable_channel_ids("slack", TEAM_ID, "UALICE")
    slack.fake.members["GSECRET"] = ["UALICE"]
    slack.fake.fail("conversations.members", "ratelimited")
    await slack.dispatch(envelope({**left, "user": "UBOB"}, event_id="EvLeft2"))
    await slack.app.bus.drain()
    assert "GSECRET" not in await slack.app.store.readable_channel_ids("slack", TEAM_ID, "UBOB")  # the event says so
    assert "GSECRET" in await slack.app.store.readable_channel_ids("slack", TEAM_ID, "UALICE")  # no guessed list
    calls = len(slack.fake.calls_to("conversations.members"))
    await slack.dispatch(envelope({**left, "channel": "CHELP", "channel_type": "C"}, event_id="EvLeft3"))
    await slack.app.bus.drain()
    assert len(slack.fake.calls_to("conversations.members")) == calls  # public: nothing to re-read


async def test_reactions_members_and_clicks(slack: Harness) -> None:
    await slack.dispatch(
        envelope(
            {
                "type": "member_joined_channel",
                "user": "UNEW",
                "channel": "CHELP",
                "channel_type": "C",
                "team": TEAM_ID,
                "event_ts": "1767600700.000100",
            },
            event_id="Ev1",
        )
    )
    await slack.dispatch(
        envelope(
            {
                "type": "team_join",
                "user": {"id": "UNEW2", "name": "zoë", "real_name": "Zoë 🚀", "is_bot": False},
                "event_ts": "1767600701.000100",
            },
            event_id="Ev2",
        )
    )
    user = await slack.app.store.get_user("slack", TEAM_ID, "UNEW2")
    assert user is not None and user.name == "Zoë 🚀"
    assert await slack.dispatch(click_payload("qa.feedback", "up", trigger_id="123.456.abc")) == 200
    assert [(c.action_id, c.value, c.message_id) for c in EchoBrain.clicks] == [
        ("qa.feedback", "up", "CGENERAL:1767600000.000100")
    ]
    # The clicker's admin facts ride along (a draft's "Approve" is for admins): alice is none, ada is.
    assert not EchoBrain.clicks[0].is_platform_admin
    by_admin = click_payload("qa.feedback", "up", trigger_id="124.456.abc")
    by_admin["user"] = {"id": "UADMIN", "username": "ada", "team_id": TEAM_ID}
    by_admin["actions"][0]["action_ts"] = "1767600703.0001"  # another click, not a redelivery
    await slack.dispatch(by_admin)
    assert EchoBrain.clicks[-1].user.user_id == "UADMIN" and EchoBrain.clicks[-1].is_platform_admin


async def test_a_button_group_sharing_one_action_is_accepted_and_clicks_come_back_as_it(slack: Harness) -> None:
    # Brains give 👍 and 👎 one action; Slack refuses a block that repeats an action_id
    # (invalid_blocks), so the fake API does too, and the answer would be lost.
    buttons = (Button("qa.feedback", "👍", "up:a1"), Button("qa.feedback", "👎", "down:a1"))
    await slack.app.bus.publish(SendMessage(channel=GENERAL, text="an answer [1]", buttons=buttons))
    await slack.app.bus.drain()
    [post] = slack.fake.calls_to("chat.postMessage")
    blocks = post["blocks"] if isinstance(post["blocks"], list) else json.loads(post["blocks"])
    [actions] = [b for b in blocks if b["type"] == "actions"]
    sent = [e["action_id"] for e in actions["elements"]]
    assert len(set(sent)) == 2
    assert await slack.dispatch(click_payload(sent[1], "down:a1", trigger_id="123.456.abd")) == 200
    assert [(c.action_id, c.value) for c in EchoBrain.clicks] == [("qa.feedback", "down:a1")]


async def test_app_home_shows_the_members_privacy_setting(slack: Harness) -> None:
    await slack.app.store.set_member_setting("slack", TEAM_ID, "UALICE", "opted_out", True)
    opened = {
        "type": "app_home_opened",
        "user": "UALICE",
        "channel": "DALICE",
        "tab": "home",
        "event_ts": "1767600800.1",
    }
    await slack.dispatch(envelope(opened, event_id="EvHome1"))
    await slack.dispatch(envelope({**opened, "tab": "messages"}, event_id="EvHome2"))
    [published] = slack.fake.calls_to("views.publish")
    assert published["user_id"] == "UALICE"
    assert "You are opted out" in json.dumps(published["view"])


# --------------------------------------------------------------------------- HTTP mode


async def test_http_event_retry_is_processed_once(slack: Harness) -> None:
    payload = envelope(message_event(f"<@{BOT_USER_ID}> once please", ts="1767600800.000100"), event_id="EvRetry")
    status, _ = await slack.post_event(payload)
    assert status == 200
    status, _ = await slack.post_event(payload, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert status == 200
    await slack.settle()
    assert len(slack.fake.calls_to("chat.postMessage")) == 1
    # The member's message once, and the bot's answer (recorded as chat.postMessage answered it).
    stored = await slack.app.store.db.fetchall("SELECT is_bot FROM messages ORDER BY is_bot")
    assert [bool(r[0]) for r in stored] == [False, True]


@pytest.mark.parametrize("tamper", ["bad_signature", "stale_timestamp", "no_headers"])
async def test_unsigned_or_stale_requests_are_rejected_and_nothing_is_stored(slack: Harness, tamper: str) -> None:
    body = json.dumps(envelope(message_event("sneaky", ts="1767600900.000100")))
    if tamper == "bad_signature":
        headers = signed_headers(body, secret="not-the-secret", content_type="application/json")
    elif tamper == "stale_timestamp":
        headers = signed_headers(body, timestamp=int(time.time()) - 600, content_type="application/json")
    else:
        headers = {"Content-Type": "application/json"}
    status, _ = await slack.post(body, headers)
    await slack.settle()
    assert status == 401
    assert (await slack.app.store.counts())["messages"] == 0


async def test_url_verification_and_malformed_bodies(slack: Harness) -> None:
    status, text = await slack.post_event({"type": "url_verification", "challenge": "c-123", "token": "t"})
    assert status == 200 and "c-123" in text
    body = "{not json"
    status, _ = await slack.post(body, signed_headers(body, content_type="application/json"))
    await slack.settle()
    assert status in (400, 404)
    status, _ = await slack.post_event(envelope({"type": "message", "channel": "CGENERAL", "text": "no ts, no user"}))
    await slack.settle()
    assert status == 200 and (await slack.app.store.counts())["messages"] == 0


async def test_slash_command_is_acked_fast_and_answered_later(slack: Harness) -> None:
    EchoBrain.gate = asyncio.Event()
    body = form_body(slash_form("/ask", "what is  ünïcode? 🤔", response_url=slack.fake.hook_url("ask1")))
    started = time.monotonic()
    status, _ = await slack.post(body, signed_headers(body, content_type="application/x-www-form-urlencoded"))
    elapsed = time.monotonic() - started
    assert status == 200 and elapsed < 3.0
    assert slack.fake.hook_posts == []  # the answer is still being worked on
    EchoBrain.gate.set()
    await slack.settle()
    [(name, reply)] = slack.fake.hook_posts
    assert name == "ask1" and reply["response_type"] == "in_channel"
    assert "answer to what is  ünïcode? 🤔" in reply["text"]
    assert "<https://x.test/d|Doc>" in json.dumps(reply["blocks"])


@pytest.mark.parametrize(
    ("user", "groups", "allowed"),
    [("UALICE", {}, False), ("UADMIN", {}, True), ("UOWNER", {}, True), ("UALICE", {"SADMINS": ["UALICE"]}, True)],
)
async def test_admin_commands_need_workspace_admin_or_admin_group(
    slack: Harness, user: str, groups: dict[str, list[str]], allowed: bool
) -> None:
    slack.fake.usergroups.update(groups)
    form = slash_form("/guildhall", "config show", user=user, response_url=slack.fake.hook_url("cfg"))
    await slack.dispatch(form)
    [(_, reply)] = slack.fake.hook_posts
    assert reply["response_type"] == "ephemeral"
    assert ("admins" in reply["text"]) is not allowed
    audit = await slack.app.store.audit_entries()
    assert audit[0]["action"] == "/guildhall config" and audit[0]["allowed"] is allowed


async def test_command_reply_falls_back_when_response_url_expired(slack: Harness) -> None:
    slack.fake.expired_hooks.add("old")
    await slack.dispatch(slash_form("/guildhall-help", response_url=slack.fake.hook_url("old")))
    assert len(slack.fake.hook_posts) == 1
    [eph] = slack.fake.calls_to("chat.postEphemeral")
    assert eph["channel"] == "CGENERAL" and eph["user"] == "UALICE"


async def test_forged_response_url_is_not_called(slack: Harness) -> None:
    await slack.dispatch(slash_form("/guildhall-help", response_url="http://169.254.169.254/latest"))
    assert slack.fake.hook_posts == []
    assert len(slack.fake.calls_to("chat.postEphemeral")) == 1


async def test_redelivered_slash_command_runs_once(slack: Harness) -> None:
    form = slash_form("/guildhall-help", response_url=slack.fake.hook_url("h"))
    await slack.dispatch(form)
    await slack.dispatch(form)
    assert len(slack.fake.hook_posts) == 1


# --------------------------------------------------------------------------- outbound


async def test_rate_limited_call_is_retried_after_retry_after(slack: Harness) -> None:
    slack.fake.rate_limit("chat.postMessage", retry_after=0)
    await slack.app.bus.publish(SendMessage(channel=GENERAL, text="hello", thread_id="CGENERAL:1767600000.000100"))
    await slack.app.bus.drain()
    posts = slack.fake.calls_to("chat.postMessage")
    assert len(posts) == 2 and posts[1]["text"] == "hello"
    assert posts[1]["thread_ts"] == "1767600000.000100"  # Slack's ts, not Guildhall's channel-qualified id


async def test_not_in_channel_is_logged_with_a_hint_and_the_app_goes_on(
    slack: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    slack.fake.fail("chat.postMessage", "not_in_channel")
    with caplog.at_level(logging.WARNING, logger="adapters.slack"):
        await slack.app.bus.publish(SendMessage(channel=GENERAL, text="first"))
        await slack.app.bus.drain()
    assert "not_in_channel" in caplog.text and "/invite" in caplog.text
    assert slack.app.bus.stats.failed == 0  # type: ignore[attr-defined]
    await slack.app.bus.publish(SendMessage(channel=GENERAL, text="second"))
    await slack.app.bus.drain()
    assert [p["text"] for p in slack.fake.calls_to("chat.postMessage")] == ["first", "second"]


async def test_dm_ephemeral_reaction_and_chart_upload(slack: Harness) -> None:
    alice = UserRef(Platform.SLACK, TEAM_ID, "UALICE", "alice")
    chart = Attachment("trends.png", "image/png", b"\x89PNG\r\n\x1a\nfake")
    await slack.app.bus.publish(SendDirectMessage(user=alice, text="your digest <!channel>", attachments=(chart,)))
    await slack.app.bus.publish(SendEphemeral(channel=GENERAL, user=alice, text="only you"))
    await slack.app.bus.publish(AddReaction(channel=GENERAL, message_id="CGENERAL:1767600000.000100", emoji="✅"))
    await slack.app.bus.drain()

    assert slack.fake.calls_to("conversations.open")[0]["users"] == "UALICE"
    [dm] = slack.fake.calls_to("chat.postMessage")
    assert dm["channel"] == "DALICE" and "<!channel>" not in dm["text"]
    assert slack.fake.calls_to("chat.postEphemeral")[0]["user"] == "UALICE"
    [reaction] = slack.fake.calls_to("reactions.add")
    assert reaction["name"] == "white_check_mark" and reaction["timestamp"] == "1767600000.000100"
    [complete] = slack.fake.calls_to("files.completeUploadExternal")
    assert complete["channel_id"] == "DALICE"
    assert slack.fake.uploads[0][1] == chart.data


async def test_a_refused_chart_upload_leaves_the_posted_text_posted_once(slack: Harness) -> None:
    slack.fake.upload_fails = 1
    chart = Attachment("leaderboard.png", "image/png", b"\x89PNG\r\n\x1a\nfake")
    await slack.app.bus.publish(SendMessage(channel=GENERAL, text="the weekly board", attachments=(chart,)))
    await slack.app.bus.drain()
    assert [p["text"] for p in slack.fake.calls_to("chat.postMessage")] == ["the weekly board"]
    assert slack.app.bus.stats.failed == 0  # not redelivered (on Redis it would post the text again)


async def test_member_mentions_ping_only_the_members_meant(slack: Harness) -> None:
    from bot.store import UserRow

    await slack.app.store.upsert_users([UserRow("slack", TEAM_ID, "UBOB", "bob")])
    # Quoted history (or a model copying it) would ping: Slack has no allowed-mentions list.
    await slack.app.bus.publish(SendMessage(channel=GENERAL, text="As <@UBOB> said, and <@UCAROL|carol>: use pip"))
    await slack.app.bus.publish(
        SendMessage(channel=GENERAL, text="<@UALICE> solved this before", notify_user_ids=("UALICE",))
    )
    await slack.app.bus.drain()
    texts = [p["text"] for p in slack.fake.calls_to("chat.postMessage")]
    assert "As @bob said, and @carol: use pip" in texts
    assert "<@UALICE> solved this before" in texts


async def test_huge_answer_is_split_across_messages(slack: Harness) -> None:
    text = "\n\n".join(f"paragraph {i} " + "x" * 2900 for i in range(60))
    await slack.app.bus.publish(
        SendMessage(channel=ChannelRef(Platform.SLACK, TEAM_ID, "GSECRET", visibility=Visibility.PRIVATE), text=text)
    )
    await slack.app.bus.drain()
    posts = slack.fake.calls_to("chat.postMessage")
    # Slack refuses a message whose blocks hold more than ~12,000 characters in all
    # (msg_blocks_too_long), so 60 sections of ~2,900 characters go as 20 messages, not 2.
    assert len(posts) == 20
    assert all(len(b["text"]["text"]) <= 3000 for p in posts for b in p["blocks"])
    assert all(sum(len(b["text"]["text"]) for b in p["blocks"]) <= render.MESSAGE_TEXT_BUDGET for p in posts)
    assert "".join(b["text"]["text"] for p in posts for b in p["blocks"]).count("paragraph") == 60


# --------------------------------------------------------------------------- Socket Mode transport


async def test_socket_mode_connection_receives_events_and_commands(
    make_app: Any, tmp_path: Path, fake_slack: FakeSlackAPI
) -> None:
    settings = slack_settings(tmp_path, mode="socket", app_token="xapp-1-test")
    app, _ = await make_app(settings_override=settings, extra_brains=[EchoBrain])
    adapter = SlackAdapter(settings, store=app.store, client_base_url=fake_slack.url)
    app.add_adapter(adapter)
    await asyncio.wait_for(adapter.start(), timeout=10)
    try:
        await asyncio.wait_for(fake_slack.socket_connected.wait(), timeout=10)
        event = envelope(message_event(f"<@{BOT_USER_ID}> over the socket", ts="1767601000.000100"))
        ack = await asyncio.wait_for(fake_slack.socket_send("env-1", "events_api", event), timeout=10)
        assert ack["envelope_id"] == "env-1"
        form = slash_form("/guildhall-help", response_url=fake_slack.hook_url("sock"))
        ack = await asyncio.wait_for(fake_slack.socket_send("env-2", "slash_commands", dict(form)), timeout=10)
        assert ack["envelope_id"] == "env-2"
        await settle_bolt()
        await app.bus.drain()
        assert await app.store.get_message("slack", TEAM_ID, "CGENERAL:1767601000.000100") is not None
        assert fake_slack.calls_to("chat.postMessage")[0]["thread_ts"] == "1767601000.000100"
        assert [name for name, _ in fake_slack.hook_posts] == ["sock"]
        assert fake_slack.calls_to("apps.connections.open")
    finally:
        await adapter.stop()


@pytest.mark.parametrize("error", ["invalid_auth", "not_allowed_token_type"])
async def test_a_refused_app_token_is_a_clear_error_not_a_start_that_hangs(
    make_app: Any, tmp_path: Path, fake_slack: FakeSlackAPI, error: str
) -> None:
    # slack-sdk's Socket Mode connect retries every failure for ever: the start hung, logging a
    # traceback every 10 s, when SLACK_APP_TOKEN was wrong or a bot token stood in its place.
    fake_slack._m_apps_connections_open = lambda args: {"ok": False, "error": error}  # type: ignore[method-assign]
    settings = slack_settings(tmp_path, mode="socket", app_token="xoxb-not-an-app-token")
    app, _ = await make_app(settings_override=settings)
    adapter = SlackAdapter(settings, store=app.store, client_base_url=fake_slack.url)
    try:
        with pytest.raises(ValueError, match=f"Slack refused SLACK_APP_TOKEN \\({error}\\)"):
            await asyncio.wait_for(adapter.start(), timeout=10)
    finally:
        await adapter.stop()
    assert not fake_slack.socket_connected.is_set()


async def test_an_app_token_check_that_gets_no_answer_leaves_the_connect_to_retry(
    make_app: Any, tmp_path: Path, fake_slack: FakeSlackAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A slow Slack (the check's answer later than the client's timeout) stopped the start with
    # "cannot connect", where the Socket Mode connect would have waited and connected.
    from slack_sdk.web.async_client import AsyncWebClient

    real = AsyncWebClient.apps_connections_open
    calls = 0

    async def slow_first(self: AsyncWebClient, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise TimeoutError()
        return await real(self, **kwargs)

    monkeypatch.setattr(AsyncWebClient, "apps_connections_open", slow_first)
    await socket_mode_connects(make_app, tmp_path, fake_slack)


async def test_a_rate_limited_app_token_check_leaves_the_connect_to_retry(
    make_app: Any, tmp_path: Path, fake_slack: FakeSlackAPI
) -> None:
    answers = iter([{"ok": False, "error": "ratelimited"}])
    ok = fake_slack._m_apps_connections_open
    fake_slack._m_apps_connections_open = lambda args: next(answers, None) or ok(args)  # type: ignore[method-assign]
    await socket_mode_connects(make_app, tmp_path, fake_slack)


async def socket_mode_connects(make_app: Any, tmp_path: Path, fake_slack: FakeSlackAPI) -> None:
    """A Socket Mode adapter with a good app token starts, and its socket connects to the fake."""
    settings = slack_settings(tmp_path, mode="socket", app_token="xapp-1-test")
    app, _ = await make_app(settings_override=settings)
    adapter = SlackAdapter(settings, store=app.store, client_base_url=fake_slack.url)
    try:
        await asyncio.wait_for(adapter.start(), timeout=10)
        await asyncio.wait_for(fake_slack.socket_connected.wait(), timeout=10)
    finally:
        await adapter.stop()


# --------------------------------------------------------------------------- multi-workspace (OAuth)


async def test_oauth_install_then_events_and_answers_use_that_workspace_token(
    make_app: Any, tmp_path: Path, fake_slack: FakeSlackAPI
) -> None:
    settings = slack_settings(tmp_path, bot_token=None, client_id="111.222", client_secret="s3cr3t")
    app, _ = await make_app(settings_override=settings, extra_brains=[EchoBrain])
    adapter = SlackAdapter(settings, store=app.store, client_base_url=fake_slack.url)
    app.add_adapter(adapter)
    await adapter.start()
    base = f"http://127.0.0.1:{adapter.http_port}"
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/slack/install") as resp:
                assert resp.status == 200
                state = resp.cookies["slack-app-oauth-state"].value
            cookie = {"Cookie": f"slack-app-oauth-state={state}"}
            async with session.get(
                f"{base}/slack/oauth_redirect", params={"code": "good-code", "state": "forged"}, headers=cookie
            ) as resp:
                assert resp.status in (400, 401)  # state must match the browser cookie and the store
            async with session.get(
                f"{base}/slack/oauth_redirect", params={"code": "good-code", "state": state}, headers=cookie
            ) as resp:
                assert resp.status == 200
        assert adapter.installation_store is not None
        bot = await adapter.installation_store.async_find_bot(enterprise_id=None, team_id="T0BETA")
        assert bot is not None and bot.bot_token == "xoxb-beta" and bot.bot_id == "BBOTBETA"

        event = envelope(message_event("<@UBOTBETA> hello beta", ts="1767602000.000100"), team_id="T0BETA")
        event["authorizations"] = [{"team_id": "T0BETA", "user_id": "UBOTBETA", "is_bot": True}]
        event["event"]["team"] = "T0BETA"
        body = json.dumps(event)
        async with aiohttp.ClientSession() as session:
            url = f"{base}/slack/events"
            async with session.post(
                url, data=body, headers=signed_headers(body, content_type="application/json")
            ) as resp:
                assert resp.status == 200
        await settle_bolt()
        await app.bus.drain()
        assert await app.store.get_message("slack", "T0BETA", "CGENERAL:1767602000.000100") is not None
        [post] = [c for c in fake_slack.calls if c.method == "chat.postMessage"]
        assert post.token == "xoxb-beta" and post.args["thread_ts"] == "1767602000.000100"
    finally:
        await adapter.stop()
