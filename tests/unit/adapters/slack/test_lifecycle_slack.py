"""Slack lifecycle events through a real Bolt ``AsyncApp`` against the fake Web API.

A channel made private must stop being public in the store and the index, and an uninstalled
workspace (or one whose bot token was revoked) must lose its stored tokens and cached client.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.oauth.installation_store.models.installation import Installation

from adapters.slack.adapter import SlackAdapter
from bot.bus import InProcessBus
from bot.config import Settings
from bot.recorder import Recorder
from bot.store import Store
from tests.slack_fakes import BOT_USER_ID, SIGNING_SECRET, TEAM_ID, FakeSlackAPI, envelope, message_event, settle_bolt


class Wired:
    """The adapter publishing on an in-process bus that the recorder writes to the store."""

    def __init__(self, adapter: SlackAdapter, bus: InProcessBus) -> None:
        self.adapter, self.bus = adapter, bus

    async def dispatch(self, body: dict[str, Any]) -> None:
        await self.adapter.app.async_dispatch(AsyncBoltRequest(mode="socket_mode", body=body))
        await settle_bolt()
        await self.bus.drain()


def wire(settings: Settings, store: Store, fake: FakeSlackAPI) -> Wired:
    adapter = SlackAdapter(settings, store=store, client_base_url=fake.url)
    bus = InProcessBus()
    Recorder(store).attach(bus)
    adapter.attach(bus)
    return Wired(adapter, bus)


async def test_a_public_channel_converted_to_private_becomes_private(fake: FakeSlackAPI, store: Store) -> None:
    settings = Settings.model_validate(
        {"brains": [], "slack": {"bot_token": "xoxb-test", "signing_secret": SIGNING_SECRET}}
    )
    slack = wire(settings, store, fake)
    fake.conversations["CPLANS"] = {"id": "CPLANS", "name": "plans", "is_channel": True, "is_private": False}
    await slack.dispatch(envelope(message_event("public for now", channel="CPLANS"), event_id="Ev1"))
    row = await store.get_channel("slack", TEAM_ID, "CPLANS")
    assert row is not None and row.visibility == "public"

    # An admin makes it private: Slack now says so, and sends the system message (channel_type group).
    fake.conversations["CPLANS"] = {"id": "CPLANS", "name": "plans", "is_channel": True, "is_private": True}
    fake.members["CPLANS"] = ["UALICE", BOT_USER_ID]
    converted = message_event(
        "made this channel *private*.",
        channel="CPLANS",
        channel_type="group",
        subtype="channel_convert_to_private",
        ts="1767600100.000100",
    )
    await slack.dispatch(envelope(converted, event_id="Ev2"))

    row = await store.get_channel("slack", TEAM_ID, "CPLANS")
    assert row is not None and row.visibility == "private"
    assert "CPLANS" not in await store.readable_channel_ids("slack", TEAM_ID, "UCAROL")
    assert "CPLANS" in await store.readable_channel_ids("slack", TEAM_ID, "UALICE")
    assert slack.adapter.channels(TEAM_ID)["CPLANS"].visibility.value == "private"


async def test_a_converted_channel_whose_members_cannot_be_read_is_still_private(
    fake: FakeSlackAPI, store: Store
) -> None:
    settings = Settings.model_validate(
        {"brains": [], "slack": {"bot_token": "xoxb-test", "signing_secret": SIGNING_SECRET}}
    )
    slack = wire(settings, store, fake)
    fake.conversations["CPLANS"] = {"id": "CPLANS", "name": "plans", "is_channel": True, "is_private": False}
    await slack.dispatch(envelope(message_event("public for now", channel="CPLANS"), event_id="Ev1"))
    del fake.conversations["CPLANS"]  # conversations.info now fails (say, a missing groups:read scope)
    converted = message_event(
        "made this channel *private*.",
        channel="CPLANS",
        channel_type="group",
        subtype="channel_convert_to_private",
        ts="1767600100.000100",
    )
    await slack.dispatch(envelope(converted, event_id="Ev2"))

    row = await store.get_channel("slack", TEAM_ID, "CPLANS")
    assert row is not None and row.visibility == "private" and row.name == "plans"
    assert "CPLANS" not in await store.readable_channel_ids("slack", TEAM_ID, "UCAROL")


def _installation(token: str) -> Installation:
    return Installation(
        app_id="A0GUILD",
        team_id=TEAM_ID,
        bot_token=token,
        bot_id="BBOT",
        bot_user_id=BOT_USER_ID,
        bot_scopes=["chat:write"],
        user_id="UADMIN",
        user_token="xoxp-admin",
        installed_at=1000.0,
    )


def _oauth_settings(tmp_path: Path) -> Settings:
    return Settings.model_validate(
        {
            "brains": [],
            "data_dir": str(tmp_path),
            "slack": {"client_id": "111.222", "client_secret": "s3cr3t", "signing_secret": SIGNING_SECRET},
        }
    )


async def test_app_uninstalled_deletes_the_workspace_tokens(fake: FakeSlackAPI, store: Store, tmp_path: Path) -> None:
    slack = wire(_oauth_settings(tmp_path), store, fake)
    installs = slack.adapter.installation_store
    assert installs is not None
    await installs.async_save(_installation("xoxb-acme"))
    client = await slack.adapter.client_for(TEAM_ID)
    assert client.token == "xoxb-acme"

    await slack.dispatch(envelope({"type": "app_uninstalled", "event_ts": "1767600200.000100"}, event_id="EvBye"))

    assert await installs.async_find_bot(enterprise_id=None, team_id=TEAM_ID) is None
    assert await installs.async_find_installation(enterprise_id=None, team_id=TEAM_ID) is None
    # No cached client keeps the dead token: the next action finds no installation.
    assert (await slack.adapter.client_for(TEAM_ID)).token != "xoxb-acme"


async def test_a_revoked_bot_token_is_deleted_and_not_reused(fake: FakeSlackAPI, store: Store, tmp_path: Path) -> None:
    slack = wire(_oauth_settings(tmp_path), store, fake)
    installs = slack.adapter.installation_store
    assert installs is not None
    await installs.async_save(_installation("xoxb-acme"))
    assert (await slack.adapter.client_for(TEAM_ID)).token == "xoxb-acme"

    revoked = {"type": "tokens_revoked", "tokens": {"oauth": ["UADMIN"], "bot": [BOT_USER_ID]}, "event_ts": "1.0"}
    await slack.dispatch(envelope(revoked, event_id="EvRevoked"))

    assert await installs.async_find_bot(enterprise_id=None, team_id=TEAM_ID) is None
    assert (await slack.adapter.client_for(TEAM_ID)).token != "xoxb-acme"


async def test_a_malformed_tokens_revoked_event_does_not_crash(
    fake: FakeSlackAPI, store: Store, tmp_path: Path
) -> None:
    slack = wire(_oauth_settings(tmp_path), store, fake)
    installs = slack.adapter.installation_store
    assert installs is not None
    await installs.async_save(_installation("xoxb-acme"))
    await slack.dispatch(envelope({"type": "tokens_revoked", "tokens": "all of them"}, event_id="EvOdd"))
    assert await installs.async_find_bot(enterprise_id=None, team_id=TEAM_ID) is not None


@pytest.mark.parametrize(
    ("channel", "kind", "channel_type"), [("CPLANS", "channel", "channel"), ("GSECRET", "group", "group")]
)
async def test_a_deleted_channel_erases_its_history(
    fake: FakeSlackAPI, store: Store, channel: str, kind: str, channel_type: str
) -> None:
    settings = Settings.model_validate(
        {"brains": [], "slack": {"bot_token": "xoxb-test", "signing_secret": SIGNING_SECRET}}
    )
    slack = wire(settings, store, fake)
    fake.conversations["CPLANS"] = {"id": "CPLANS", "name": "plans", "is_channel": True, "is_private": False}
    root = message_event("roadmap draft", channel=channel, channel_type=channel_type)
    reply = message_event(
        "looks good", channel=channel, channel_type=channel_type, ts="1767600050.000100", thread_ts=root["ts"]
    )
    await slack.dispatch(envelope(root, event_id="Ev1"))
    await slack.dispatch(envelope(reply, event_id="Ev2"))
    await slack.dispatch(envelope(message_event("unrelated", ts="1767600060.000100"), event_id="Ev3"))
    assert len(await store.channel_messages("slack", TEAM_ID, channel)) == 2
    del fake.conversations[channel]  # gone: conversations.info answers channel_not_found
    calls_before = len(fake.calls_to("conversations.info"))

    await slack.dispatch(
        envelope({"type": f"{kind}_deleted", "channel": channel, "event_ts": "1767600100.000100"}, event_id="EvDel")
    )

    assert await store.channel_messages("slack", TEAM_ID, channel) == []
    row = await store.get_message("slack", TEAM_ID, f"{channel}:{root['ts']}")
    assert row is not None and row.deleted and row.text == ""
    assert len(await store.channel_messages("slack", TEAM_ID, "CGENERAL")) == 1
    assert channel not in slack.adapter.channels(TEAM_ID)
    assert len(fake.calls_to("conversations.info")) == calls_before  # a deleted channel is not looked up


async def test_a_malformed_channel_deleted_event_is_skipped(fake: FakeSlackAPI, store: Store) -> None:
    settings = Settings.model_validate(
        {"brains": [], "slack": {"bot_token": "xoxb-test", "signing_secret": SIGNING_SECRET}}
    )
    slack = wire(settings, store, fake)
    await slack.dispatch(envelope(message_event("kept"), event_id="Ev1"))
    await slack.dispatch(envelope({"type": "channel_deleted", "channel": ["CGENERAL"]}, event_id="EvOdd"))
    assert len(await store.channel_messages("slack", TEAM_ID, "CGENERAL")) == 1
