"""Slack Connect channels (shared with another organisation) through a real Bolt ``AsyncApp``
against the fake Web API: the store learns they are shared, from ``conversations.info`` or from
the envelope's ``is_ext_shared_channel``, so answers posted there use that channel alone."""

from __future__ import annotations

from bot.config import Settings
from bot.events import ChannelRef, MessagePosted, Platform, Visibility
from bot.store import ChannelRow, Store
from brain.qa.access import scope_for
from tests.slack_fakes import SIGNING_SECRET, TEAM_ID, FakeSlackAPI, envelope, message_event
from tests.unit.adapters.slack.test_lifecycle_slack import wire

SETTINGS = {"brains": [], "slack": {"bot_token": "xoxb-test", "signing_secret": SIGNING_SECRET}}


async def test_a_slack_connect_channel_is_stored_as_shared(fake: FakeSlackAPI, store: Store) -> None:
    slack = wire(Settings.model_validate(SETTINGS), store, fake)
    seen: list[MessagePosted] = []

    async def collect(event: MessagePosted) -> None:
        seen.append(event)

    slack.bus.subscribe(MessagePosted, collect, name="test.seen")
    fake.conversations["CVENDOR"] = {
        "id": "CVENDOR",
        "name": "acme-support",
        "is_channel": True,
        "is_private": False,
        "is_ext_shared": True,
    }
    await slack.dispatch(envelope(message_event("hello from acme", channel="CVENDOR"), event_id="Ev1"))
    assert seen[-1].channel.shared_externally is True
    row = await store.get_channel("slack", TEAM_ID, "CVENDOR")
    assert row is not None and row.shared_externally is True and row.visibility == "public"
    # An ordinary channel is known not to be shared.
    await slack.dispatch(envelope(message_event("hi", channel="CGENERAL", ts="1767600100.000100"), event_id="Ev2"))
    general = await store.get_channel("slack", TEAM_ID, "CGENERAL")
    assert general is not None and general.shared_externally is False


async def test_a_channel_shared_after_it_was_looked_up_is_shared_from_its_next_event(
    fake: FakeSlackAPI, store: Store
) -> None:
    slack = wire(Settings.model_validate(SETTINGS), store, fake)
    await slack.dispatch(envelope(message_event("ours for now", channel="CHELP"), event_id="Ev1"))
    row = await store.get_channel("slack", TEAM_ID, "CHELP")
    assert row is not None and row.shared_externally is False
    shared = {**envelope(message_event("hi from a partner", channel="CHELP", ts="1767600100.000100"), event_id="Ev2")}
    shared["is_ext_shared_channel"] = True
    await slack.dispatch(shared)
    row = await store.get_channel("slack", TEAM_ID, "CHELP")
    assert row is not None and row.shared_externally is True


async def test_people_of_the_other_organisation_are_stored_as_external(fake: FakeSlackAPI, store: Store) -> None:
    """Each message in a Slack Connect channel names its author's organisation (``user_team``)."""
    slack = wire(Settings.model_validate(SETTINGS), store, fake)
    fake.conversations["CVENDOR"] = {"id": "CVENDOR", "name": "acme", "is_channel": True, "is_ext_shared": True}
    partner = message_event("hello from acme", channel="CVENDOR", user="UPARTNER", user_team="T0OTHER")
    ours = message_event("welcome!", channel="CVENDOR", ts="1767600100.000100", user_team=TEAM_ID)
    body = envelope(partner, event_id="Ev1")
    body["is_ext_shared_channel"] = True
    await slack.dispatch(body)
    await slack.dispatch(envelope(ours, event_id="Ev2"))
    partner_row = await store.get_user("slack", TEAM_ID, "UPARTNER")
    alice = await store.get_user("slack", TEAM_ID, "UALICE")
    assert partner_row is not None and partner_row.external is True
    assert alice is not None and alice.external is False
    # A later message that does not say keeps what is known.
    await slack.dispatch(
        envelope(message_event("again", channel="CGENERAL", user="UPARTNER", ts="1767600200.0"), event_id="Ev3")
    )
    again = await store.get_user("slack", TEAM_ID, "UPARTNER")
    assert again is not None and again.external is True


async def test_a_shared_channel_whose_lookup_failed_is_shared_from_the_envelope(
    fake: FakeSlackAPI, store: Store
) -> None:
    """The first event carries no channel_type (an app_mention) and conversations.info fails: before,
    nothing was cached, the envelope's flag was dropped on every event, and an answer there used
    the whole workspace."""
    slack = wire(Settings.model_validate(SETTINGS), store, fake)
    seen: list[MessagePosted] = []

    async def collect(event: MessagePosted) -> None:
        seen.append(event)

    slack.bus.subscribe(MessagePosted, collect, name="test.seen")
    mention = {
        "type": "app_mention",
        "user": "UEXT",
        "text": "<@UBOT> hi",
        "ts": "1767600000.000100",
        "channel": "CUNKNOWN",  # not in the fake: conversations.info answers channel_not_found
        "event_ts": "1767600000.000100",
    }
    later = message_event("how do I rotate the password?", channel="CUNKNOWN", ts="1767600100.000100", user="UEXT")
    for event, event_id in ((mention, "Ev1"), (later, "Ev2")):
        body = envelope(event, event_id=event_id)
        body["is_ext_shared_channel"] = True
        await slack.dispatch(body)
    assert [e.channel.shared_externally for e in seen] == [True, True]
    scope = await scope_for(store, seen[-1].channel, "UEXT")
    assert (scope.include_public, scope.extra_channel_ids) == (False, frozenset({"CUNKNOWN"}))


async def test_an_event_from_a_shared_channel_is_filed_under_the_installation_not_the_senders_team(
    fake: FakeSlackAPI, store: Store
) -> None:
    """Slack may put the other organisation's id in a shared channel's envelope ``team_id``; the
    installation it was delivered for is ``authorizations[0].team_id`` (what Bolt authorizes by)."""
    slack = wire(Settings.model_validate(SETTINGS), store, fake)
    fake.conversations["CVENDOR"] = {"id": "CVENDOR", "name": "acme", "is_channel": True, "is_ext_shared": True}
    body = envelope(message_event("hello", channel="CVENDOR", user="UPARTNER", user_team="T0OTHER"), event_id="Ev1")
    body["team_id"] = "T0OTHER"
    body["is_ext_shared_channel"] = True
    await slack.dispatch(body)
    assert await store.get_channel("slack", TEAM_ID, "CVENDOR") is not None
    assert await store.get_channel("slack", "T0OTHER", "CVENDOR") is None


async def test_a_command_in_a_channel_the_store_knows_is_shared_is_scoped_to_it(store: Store) -> None:
    """A process's cache may say "not shared" from before the sharing; the store's later word wins."""
    stale = ChannelRef(Platform.SLACK, TEAM_ID, "CHELP", "help", Visibility.PUBLIC, shared_externally=False)
    await store.upsert_channels([ChannelRow("slack", TEAM_ID, "CHELP", "help", "public", shared_externally=True)])
    scope = await scope_for(store, stale, "UALICE")
    assert (scope.include_public, scope.extra_channel_ids) == (False, frozenset({"CHELP"}))


async def test_guests_are_stored_as_guests_from_their_profile(fake: FakeSlackAPI, store: Store) -> None:
    """team_join and user_change carry the users.info object: its is_restricted /
    is_ultra_restricted say the member reads only the channels they are in."""
    slack = wire(Settings.model_validate(SETTINGS), store, fake)
    joined = {
        "type": "team_join",
        "user": {"id": "UGUEST", "real_name": "Gus", "is_restricted": True, "is_ultra_restricted": False},
        "event_ts": "1767600000.000100",
    }
    await slack.dispatch(envelope(joined, event_id="Ev1"))
    row = await store.get_user("slack", TEAM_ID, "UGUEST")
    assert row is not None and row.guest is True
    promoted = {
        "type": "user_change",
        "user": {"id": "UGUEST", "real_name": "Gus", "is_restricted": False, "is_ultra_restricted": False},
        "event_ts": "1767600100.000100",
    }
    await slack.dispatch(envelope(promoted, event_id="Ev2"))
    row = await store.get_user("slack", TEAM_ID, "UGUEST")
    assert row is not None and row.guest is False
    # A profile change that does not say keeps what is known.
    renamed = {"type": "user_change", "user": {"id": "UGUEST", "real_name": "Gustav"}, "event_ts": "1767600200.000100"}
    await slack.dispatch(envelope(renamed, event_id="Ev3"))
    row = await store.get_user("slack", TEAM_ID, "UGUEST")
    assert row is not None and row.guest is False and row.name == "Gustav"
