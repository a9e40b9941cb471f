"""Who reads a Slack answer decides what it may use: only the bot's own DM gets a member's private channels.

A real Bolt ``AsyncApp`` against the fake Web API, with the QA brain answering from an index that
holds a secret Bob posted in the private channel GSECRET. The scripted model repeats the first source
it is shown, so a leak would show up in the reply. Group DMs and DMs between two members are read by
others, so their answers use public history only; the bot's own DM with Bob (learned from a
``message.im`` event or from ``conversations.open``) may use everything Bob can read.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.adapter import SlackAdapter
from adapters.slack.backfill import SlackBackfill
from adapters.slack.normalize import NormalizeContext, SlackIdentity, normalize_block_actions, normalize_command
from bot.app import GuildhallApp
from bot.config import Settings
from bot.events import InboundEvent, Platform, SendDirectMessage, UserRef, Visibility
from bot.ml import ChatMessage
from bot.testing import ScriptedLLM
from tests.slack_fakes import (
    BOT_ID,
    BOT_USER_ID,
    SIGNING_SECRET,
    TEAM_ID,
    TEAM_URL,
    FakeSlackAPI,
    envelope,
    message_event,
    settle_bolt,
    slash_form,
)

ME = SlackIdentity(TEAM_ID, BOT_USER_ID, BOT_ID, TEAM_URL)
SECRET = "the prod db password is hunter2 for deploys"
QUESTION = "what is the prod db password for deploys?"
BOB = UserRef(Platform.SLACK, TEAM_ID, "UBOB", "bob")
_SOURCE = re.compile(r'<source n="\d+" channel="[^"]*">\n(.*?)\n</source>', re.S)


def echo_first_source(messages: Sequence[ChatMessage]) -> str:
    """The model's answer: the first line of the first source it was given, cited."""
    found = _SOURCE.findall(messages[-1].content)
    return f"{found[0].splitlines()[0]} [1]" if found else "I could not find that."


class Harness:
    """The app with the QA brain and the Slack adapter, fed through Bolt's socket-mode dispatch."""

    def __init__(self, app: GuildhallApp, adapter: SlackAdapter, fake: FakeSlackAPI, llm: ScriptedLLM) -> None:
        self.app, self.adapter, self.fake, self.llm = app, adapter, fake, llm

    async def dispatch(self, body: dict[str, Any]) -> None:
        await self.adapter.app.async_dispatch(AsyncBoltRequest(mode="socket_mode", body=body))
        await settle_bolt()
        await self.app.bus.drain()

    async def ask(self, channel_id: str, *, user: str = "UBOB", hook: str = "ask") -> str:
        """Run ``/ask QUESTION`` in a DM; the reply posted through its response_url, as JSON."""
        form = {
            **slash_form("/ask", QUESTION, user=user, response_url=self.fake.hook_url(hook), trigger=f"t-{hook}"),
            "channel_id": channel_id,
            "channel_name": "directmessage",
        }
        await self.dispatch(form)
        replies = [body for name, body in self.fake.hook_posts if name == hook]
        assert replies, "the command is answered where it was run"
        return json.dumps(replies)

    def everything_posted(self) -> str:
        return json.dumps([self.fake.hook_posts, self.fake.calls_to("chat.postMessage")])

    def model_saw_the_secret(self) -> bool:
        return any("hunter2" in m.content for prompt in self.llm.prompts for m in prompt)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlackAPI]:
    f = await FakeSlackAPI().start()
    f.users["UBOB"] = {"id": "UBOB", "name": "bob", "is_admin": False, "is_owner": False}
    yield f
    await f.stop()


@pytest.fixture
async def slack(make_app: Any, tmp_path: Path, fake: FakeSlackAPI) -> AsyncIterator[Harness]:
    settings = Settings.model_validate(
        {
            "data_dir": str(tmp_path),
            "store": {"url": "sqlite://:memory:"},
            "vectors": {"path": str(tmp_path / "chroma")},
            "llm": {"backend": "scripted", "warmup": False},
            "brains": [],
            # Admins chose to index the private channel: its members may get answers from it.
            "privacy": {"index_private_channels": ["GSECRET"]},
            "slack": {"bot_token": "xoxb-test", "signing_secret": SIGNING_SECRET},
        }
    )
    llm = ScriptedLLM(echo_first_source)
    app, _ = await make_app(settings_override=settings, brains=["qa"], llm=llm)
    adapter = SlackAdapter(settings, store=app.store, client_base_url=fake.url)
    app.add_adapter(adapter)
    harness = Harness(app, adapter, fake, llm)
    await harness.dispatch(
        envelope(message_event(SECRET, user="UBOB", channel="GSECRET", channel_type="group"), event_id="EvSecret")
    )
    assert await app.store.readable_channel_ids("slack", TEAM_ID, "UBOB") >= {"GSECRET"}
    yield harness


async def test_ask_in_a_dm_between_two_members_uses_public_history_only(slack: Harness) -> None:
    # Bob runs /ask in his DM with Carol: Slack says "directmessage", but the bot is not in it, and
    # the answer (in_channel through response_url, as before) is read by Carol too.
    reply = await slack.ask("DBOBCAROL")
    assert "hunter2" not in reply and not slack.model_saw_the_secret()
    assert "hunter2" not in slack.everything_posted()


@pytest.mark.parametrize("slack_knows_it", [True, False], ids=["conversations.info", "channel_type only"])
async def test_a_group_dm_is_private_not_a_dm(slack: Harness, slack_knows_it: bool) -> None:
    if slack_knows_it:
        slack.fake.conversations["GMPIM"] = {
            "id": "GMPIM",
            "name": "mpdm-bob--carol--dave-1",
            "is_mpim": True,
            "is_private": True,
            "is_group": False,
        }
        slack.fake.members["GMPIM"] = ["UBOB", "UCAROL", "UDAVE", BOT_USER_ID]
    chatter = message_event(QUESTION, user="UBOB", channel="GMPIM", channel_type="mpim", ts="1767603600.000200")
    await slack.dispatch(envelope(chatter, event_id="EvMpim1"))
    assert slack.fake.calls_to("chat.postMessage") == []  # not addressed to the bot: no answer at all

    mention = message_event(
        f"<@{BOT_USER_ID}> {QUESTION}", user="UBOB", channel="GMPIM", channel_type="mpim", ts="1767603700.000300"
    )
    await slack.dispatch(envelope(mention, event_id="EvMpim2"))
    [answer] = slack.fake.calls_to("chat.postMessage")
    assert answer["channel"] == "GMPIM"
    assert "hunter2" not in slack.everything_posted() and not slack.model_saw_the_secret()
    row = await slack.app.store.get_channel("slack", TEAM_ID, "GMPIM")
    assert row is not None and row.visibility == "private"


async def test_bots_own_dm_learned_from_a_message_im_event_gets_dm_scope(slack: Harness) -> None:
    hello = message_event("hi there", user="UBOB", channel="DBOB", channel_type="im", ts="1767603800.000100")
    await slack.dispatch(envelope(hello, event_id="EvIm"))
    reply = await slack.ask("DBOB")
    assert SECRET in reply  # read by Bob alone: his private channel is fair game
    # The same DM id from another member (which Slack cannot send) is not Bob's DM for them.
    assert "hunter2" not in await slack.ask("DBOB", user="UCAROL", hook="carol")


async def test_bots_own_dm_learned_from_conversations_open_gets_dm_scope(slack: Harness) -> None:
    await slack.app.bus.publish(SendDirectMessage(user=BOB, text="your weekly digest"))
    await slack.app.bus.drain()
    assert slack.fake.calls_to("conversations.open")[0]["users"] == "UBOB"  # the fake opens DBOB
    assert SECRET in await slack.ask("DBOB")


def test_clicks_and_commands_in_an_unknown_dm_are_not_dms() -> None:
    ctx = NormalizeContext(ME)
    click = {
        "type": "block_actions",
        "user": {"id": "UCAROL"},
        "channel": {"id": "DBOBCAROL"},
        "container": {"message_ts": "1767600000.000100"},
        "actions": [{"action_id": "qa.feedback", "value": "up", "action_ts": "1767600001.0001"}],
    }
    [clicked] = normalize_block_actions(click, ctx)
    assert clicked.channel.visibility is Visibility.PRIVATE and not clicked.channel.visibility_known
    form: Any = {**slash_form("/ask", "x"), "channel_id": "DBOBCAROL", "channel_name": "directmessage"}
    cmd = normalize_command(form, ctx)
    assert cmd is not None and cmd.channel.visibility is Visibility.PRIVATE


async def test_backfill_lists_group_dms_as_private_and_ims_as_the_bots_dms(fake: FakeSlackAPI) -> None:
    fake.conversations["GMPIM"] = {"id": "GMPIM", "name": "mpdm-a--b-1", "is_mpim": True, "is_private": True}
    fake.conversations["DBOB"] = {"id": "DBOB", "is_im": True, "user": "UBOB"}
    events: list[InboundEvent] = []

    async def publish(event: InboundEvent) -> None:
        events.append(event)

    backfill = SlackBackfill(AsyncWebClient(token="xoxb-test", base_url=fake.url), publish, ME)
    found = {ref.channel_id: ref for ref in await backfill.list_channels(include_dms=True)}
    assert found["GMPIM"].visibility is Visibility.PRIVATE
    assert found["DBOB"].visibility is Visibility.DM and found["DBOB"].allowed_user_ids == ("UBOB",)
    unknown = await backfill.channel_ref("DUNKNOWN")  # conversations.info refuses: no guess from the prefix
    assert unknown.visibility is Visibility.PRIVATE and not unknown.visibility_known
