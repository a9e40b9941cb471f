"""Renamed channels (``channel_rename``, ``group_rename``) through a real Bolt ``AsyncApp`` against
the fake Web API: the adapter's cache and the stored channel row take the new name, so answers'
"try #channel" hints, digests and admin reports stop naming the old channel; a private channel
stays private with the same access list."""

from __future__ import annotations

from typing import Any

from bot.config import Settings
from bot.events import ChannelSeen, Visibility
from bot.store import Store
from tests.slack_fakes import SIGNING_SECRET, TEAM_ID, FakeSlackAPI, envelope, message_event
from tests.unit.adapters.slack.test_lifecycle_slack import Wired, wire

SETTINGS = {"brains": [], "slack": {"bot_token": "xoxb-test", "signing_secret": SIGNING_SECRET}}


def rename(kind: str, channel_id: str, name: str, **extra: Any) -> dict[str, Any]:
    """A ``channel_rename`` / ``group_rename`` event as Slack sends it."""
    return {
        "type": kind,
        "channel": {"id": channel_id, "name": name, "created": 1360782804, **extra},
        "event_ts": "1767600500.000100",
    }


async def access_list(store: Store, channel_id: str) -> set[tuple[str, str]]:
    rows = await store.db.fetchall(
        "SELECT principal_kind, principal_id FROM channel_access WHERE platform = ? AND workspace_id = ? "
        "AND channel_id = ?",
        ("slack", TEAM_ID, channel_id),
    )
    return {(str(kind), str(principal)) for kind, principal in rows}


def collect_seen(slack: Wired) -> list[ChannelSeen]:
    seen: list[ChannelSeen] = []

    async def collect(event: ChannelSeen) -> None:
        seen.append(event)

    slack.bus.subscribe(ChannelSeen, collect, name="test.seen")
    return seen


async def test_a_renamed_public_channel_is_stored_and_cached_with_its_new_name(
    fake: FakeSlackAPI, store: Store
) -> None:
    slack = wire(Settings.model_validate(SETTINGS), store, fake)
    await slack.dispatch(envelope(message_event("hello", channel="CGENERAL"), event_id="Ev1"))
    row = await store.get_channel("slack", TEAM_ID, "CGENERAL")
    assert row is not None and row.name == "general"

    fake.conversations["CGENERAL"] = {**fake.conversations["CGENERAL"], "name": "announcements"}
    await slack.dispatch(envelope(rename("channel_rename", "CGENERAL", "announcements"), event_id="Ev2"))

    row = await store.get_channel("slack", TEAM_ID, "CGENERAL")
    assert row is not None and row.name == "announcements" and row.visibility == "public"
    assert slack.adapter.channels(TEAM_ID)["CGENERAL"].name == "announcements"
    assert await access_list(store, "CGENERAL") == set()


async def test_a_renamed_private_channel_stays_private_with_the_same_access_list(
    fake: FakeSlackAPI, store: Store
) -> None:
    slack = wire(Settings.model_validate(SETTINGS), store, fake)
    seen = collect_seen(slack)
    await slack.dispatch(envelope(message_event("psst", channel="GSECRET", channel_type="group"), event_id="Ev1"))
    before = await access_list(store, "GSECRET")
    assert before == {("user", "UALICE"), ("user", "UBOB"), ("user", "UCAROL")}

    # Slack's group_rename carries no is_private: nothing in it may make the channel public.
    fake.conversations["GSECRET"] = {**fake.conversations["GSECRET"], "name": "plans"}
    renamed = rename("group_rename", "GSECRET", "plans", is_channel=False, is_mpim=False)
    await slack.dispatch(envelope(renamed, event_id="Ev2"))

    row = await store.get_channel("slack", TEAM_ID, "GSECRET")
    assert row is not None and row.name == "plans" and row.visibility == "private"
    assert await access_list(store, "GSECRET") == before
    assert "GSECRET" not in await store.readable_channel_ids("slack", TEAM_ID, "UDAVE")
    assert slack.adapter.channels(TEAM_ID)["GSECRET"].name == "plans"
    last = seen[-1]
    assert last.channel.name == "plans" and last.channel.visibility is Visibility.PRIVATE
    assert last.channel.visibility_known and set(last.member_ids) == {"UALICE", "UBOB", "UCAROL"}


async def test_a_private_channel_renamed_while_its_members_cannot_be_read_keeps_its_access_list(
    fake: FakeSlackAPI, store: Store
) -> None:
    slack = wire(Settings.model_validate(SETTINGS), store, fake)
    await slack.dispatch(envelope(message_event("psst", channel="GSECRET", channel_type="group"), event_id="Ev1"))
    before = await access_list(store, "GSECRET")
    assert before

    # A ChannelSeen without members would empty the access list: nothing is published instead.
    fake.fail("conversations.members", "ratelimited")
    renamed = rename("group_rename", "GSECRET", "plans", is_channel=False, is_mpim=False)
    await slack.dispatch(envelope(renamed, event_id="Ev2"))
    row = await store.get_channel("slack", TEAM_ID, "GSECRET")
    assert row is not None and row.visibility == "private"
    assert await access_list(store, "GSECRET") == before
    assert slack.adapter.channels(TEAM_ID)["GSECRET"].name == "plans"

    # The next event from it reads the members again and stores the new name with them.
    later = message_event("again", channel="GSECRET", channel_type="group", ts="1767600600.000100")
    await slack.dispatch(envelope(later, event_id="Ev3"))
    row = await store.get_channel("slack", TEAM_ID, "GSECRET")
    assert row is not None and row.name == "plans" and row.visibility == "private"
    assert await access_list(store, "GSECRET") == before


async def test_a_rename_of_a_channel_not_seen_since_the_start_is_looked_up(fake: FakeSlackAPI, store: Store) -> None:
    """After a restart the cache is empty but the store still holds the old name."""
    first = wire(Settings.model_validate(SETTINGS), store, fake)
    await first.dispatch(envelope(message_event("psst", channel="GSECRET", channel_type="group"), event_id="Ev1"))
    before = await access_list(store, "GSECRET")

    slack = wire(Settings.model_validate(SETTINGS), store, fake)
    fake.conversations["GSECRET"] = {**fake.conversations["GSECRET"], "name": "plans"}
    # Whichever of the two events names it, the visibility is conversations.info's, never a guess.
    await slack.dispatch(envelope(rename("channel_rename", "GSECRET", "plans"), event_id="Ev2"))

    row = await store.get_channel("slack", TEAM_ID, "GSECRET")
    assert row is not None and row.name == "plans" and row.visibility == "private"
    assert await access_list(store, "GSECRET") == before
    assert slack.adapter.channels(TEAM_ID)["GSECRET"].visibility is Visibility.PRIVATE


async def test_a_rename_whose_channel_cannot_be_looked_up_changes_nothing(fake: FakeSlackAPI, store: Store) -> None:
    first = wire(Settings.model_validate(SETTINGS), store, fake)
    await first.dispatch(envelope(message_event("psst", channel="GSECRET", channel_type="group"), event_id="Ev1"))
    before = await access_list(store, "GSECRET")

    slack = wire(Settings.model_validate(SETTINGS), store, fake)
    fake.fail("conversations.info", "missing_scope", needed="groups:read")
    await slack.dispatch(envelope(rename("group_rename", "GSECRET", "plans"), event_id="Ev2"))

    row = await store.get_channel("slack", TEAM_ID, "GSECRET")
    assert row is not None and row.name == "secret" and row.visibility == "private"
    assert await access_list(store, "GSECRET") == before
    assert "GSECRET" not in slack.adapter.channels(TEAM_ID)


async def test_a_malformed_rename_is_skipped(fake: FakeSlackAPI, store: Store) -> None:
    slack = wire(Settings.model_validate(SETTINGS), store, fake)
    seen = collect_seen(slack)
    for n, event in enumerate(
        [
            {"type": "channel_rename", "event_ts": "1767600500.000100"},
            {"type": "channel_rename", "channel": "CGENERAL", "event_ts": "1767600500.000100"},
            {"type": "group_rename", "channel": {"id": "GSECRET", "name": 7}, "event_ts": "1767600500.000100"},
        ]
    ):
        await slack.dispatch(envelope(event, event_id=f"Ev{n}"))
    assert seen == []
    assert await store.get_channel("slack", TEAM_ID, "GSECRET") is None
