"""Web API calls Slack never answers (the connection drops, after slack_sdk's own retry) or answers
with "not now" (``internal_error``), through a real Bolt ``AsyncApp`` against the fake Web API.

Bolt acks the event or command before the listener runs, so a failure there is silent: the message
must still be published with what is known, the command still answered, and a channel whose
lookup got no answer asked about again on its next event.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from slack_bolt.request.async_request import AsyncBoltRequest

from adapters.slack.adapter import SlackAdapter
from bot.config import Settings
from bot.events import CommandInvoked, MessagePosted, Visibility
from bot.store import Store
from tests.slack_fakes import (
    SIGNING_SECRET,
    TEAM_ID,
    FakeSlackAPI,
    adapter_settings,
    envelope,
    message_event,
    settle_bolt,
    slash_form,
)
from tests.unit.adapters.slack.test_lifecycle_slack import Wired, wire

SETTINGS = {"brains": [], "slack": {"bot_token": "xoxb-test", "signing_secret": SIGNING_SECRET}}


class DroppingSlackAPI(FakeSlackAPI):
    """The fake Web API, except that calls of the methods in ``dropped`` lose their connection."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped: set[str] = set()
        self.drops = 0

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["method"] not in self.dropped:
            return await super()._api(request)
        self.drops += 1
        await request.read()
        assert request.transport is not None
        request.transport.close()  # reset mid-request: the client gets no response at all
        return web.Response(text="")


@pytest.fixture
async def dropping() -> Any:
    fake = await DroppingSlackAPI().start()
    yield fake
    await fake.stop()


def collect(slack: Wired) -> list[MessagePosted]:
    seen: list[MessagePosted] = []

    async def on_posted(event: MessagePosted) -> None:
        seen.append(event)

    slack.bus.subscribe(MessagePosted, on_posted, name="test.posted")
    return seen


async def test_a_message_is_published_when_conversations_info_gets_no_answer_and_asked_again_next_time(
    dropping: DroppingSlackAPI, store: Store
) -> None:
    slack = wire(Settings.model_validate(SETTINGS), store, dropping)
    seen = collect(slack)
    dropping.dropped.add("conversations.info")
    await slack.dispatch(envelope(message_event("how do I deploy to prod?"), event_id="Ev1"))

    assert dropping.drops >= 2  # slack_sdk retried before giving up
    [posted] = seen
    assert posted.text == "how do I deploy to prod?"
    assert posted.channel.visibility is Visibility.PUBLIC  # the event's channel_type says so
    row = await store.get_message("slack", TEAM_ID, "CGENERAL:1767600000.000100")
    assert row is not None and row.text == "how do I deploy to prod?"

    # Slack is back: the next event in that channel looks it up (its name was never learned).
    dropping.dropped.clear()
    await slack.dispatch(envelope(message_event("second", ts="1767600100.000100"), event_id="Ev2"))
    assert len(dropping.calls_to("conversations.info")) == 1
    channel = await store.get_channel("slack", TEAM_ID, "CGENERAL")
    assert channel is not None and channel.name == "general"
    assert slack.adapter.channels(TEAM_ID)["CGENERAL"].name == "general"


async def test_a_channel_whose_lookup_hit_a_slack_outage_is_asked_again(fake: FakeSlackAPI, store: Store) -> None:
    slack = wire(Settings.model_validate(SETTINGS), store, fake)
    fake.fail("conversations.info", "internal_error")
    await slack.dispatch(envelope(message_event("first"), event_id="Ev1"))
    await slack.dispatch(envelope(message_event("second", ts="1767600100.000100"), event_id="Ev2"))
    assert len(fake.calls_to("conversations.info")) == 2
    assert slack.adapter.channels(TEAM_ID)["CGENERAL"].name == "general"
    # A lasting refusal is asked once per process, as before.
    del fake.conversations["CHELP"]
    for n, ts in enumerate(("1767600200.000100", "1767600300.000100")):
        await slack.dispatch(envelope(message_event("hi", channel="CHELP", ts=ts), event_id=f"Ev{3 + n}"))
    assert [c["channel"] for c in fake.calls_to("conversations.info")].count("CHELP") == 1


async def test_a_private_channel_message_is_published_when_its_members_get_no_answer(
    dropping: DroppingSlackAPI, store: Store
) -> None:
    slack = wire(Settings.model_validate(SETTINGS), store, dropping)
    seen = collect(slack)
    dropping.dropped.add("conversations.members")
    await slack.dispatch(envelope(message_event("staff only", channel="GSECRET", channel_type="group"), event_id="Ev1"))

    [posted] = seen
    assert posted.channel.visibility is Visibility.PRIVATE
    row = await store.get_message("slack", TEAM_ID, "GSECRET:1767600000.000100")
    assert row is not None and row.text == "staff only"
    # No ChannelSeen with a guessed member list: only the poster reads it so far.
    assert "GSECRET" not in await store.readable_channel_ids("slack", TEAM_ID, "UCAROL")

    # Slack is back: the channel's next event asks for its members again (before: never again in
    # this process, so its members who had not posted never read it through the bot).
    dropping.dropped.clear()
    dropping.members["GSECRET"] = ["UALICE", "UCAROL"]
    await slack.dispatch(
        envelope(
            message_event("and more", channel="GSECRET", channel_type="group", ts="1767600100.000100"), event_id="Ev2"
        )
    )
    assert "GSECRET" in await store.readable_channel_ids("slack", TEAM_ID, "UCAROL")
    asked = len(dropping.calls_to("conversations.members"))
    await slack.dispatch(
        envelope(
            message_event("third", channel="GSECRET", channel_type="group", ts="1767600200.000100"), event_id="Ev3"
        )
    )
    assert len(dropping.calls_to("conversations.members")) == asked  # known now: not asked at each event


@pytest.mark.parametrize("method", ["users.info", "usergroups.users.list"])
async def test_ask_is_answered_when_the_admin_facts_get_no_answer(
    make_app: Any, tmp_path: Path, dropping: DroppingSlackAPI, method: str
) -> None:
    settings = adapter_settings(tmp_path)
    settings = settings.model_copy(
        update={"slack": settings.slack.model_copy(update={"admin_usergroup_ids": ["SADMINS"]})}
    )
    dropping.usergroups["SADMINS"] = ["UADMIN"]
    app, _ = await make_app(settings_override=settings, brains=["qa"])
    adapter = SlackAdapter(settings, store=app.store, client_base_url=dropping.url)
    app.add_adapter(adapter)
    commands: list[CommandInvoked] = []

    async def on_command(event: CommandInvoked) -> None:
        commands.append(event)

    app.bus.subscribe(CommandInvoked, on_command, name="test.commands")
    dropping.dropped.add(method)
    body = slash_form("/ask", "how do I deploy?", response_url=dropping.hook_url("c1"))
    resp = await adapter.app.async_dispatch(AsyncBoltRequest(mode="socket_mode", body=dict(body)))
    await settle_bolt()
    await app.bus.drain()

    assert resp.status == 200 and dropping.drops >= 2
    [cmd] = commands
    assert cmd.name == "ask" and not cmd.is_platform_admin
    [(hook, answer)] = dropping.hook_posts
    assert hook == "c1" and answer["text"]


async def test_the_bots_identity_is_asked_again_when_auth_test_gets_no_answer(
    tmp_path: Path, dropping: DroppingSlackAPI, store: Store
) -> None:
    """Bolt's authorization asks auth.test before the listener runs (with no answer the event is
    left unacked, for Slack to send again), so this is the narrow case of Bolt's call answered and
    ours, a moment later, not: raising there lost the event after its ack."""
    adapter = SlackAdapter(adapter_settings(tmp_path), store=store, client_base_url=dropping.url)
    dropping.dropped.add("auth.test")
    ident = await adapter.identity(adapter.client, TEAM_ID)
    assert dropping.drops >= 2 and ident.team_id == TEAM_ID and not ident.bot_user_id
    dropping.dropped.clear()  # Slack is back: asked again, and kept from then on
    assert (await adapter.identity(adapter.client, TEAM_ID)).bot_user_id
    assert adapter._identities[TEAM_ID].bot_user_id
