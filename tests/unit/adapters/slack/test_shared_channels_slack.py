"""Slack Connect channels (shared with another organisation) through a real Bolt ``AsyncApp``
against the fake Web API: the store learns they are shared, from ``conversations.info`` or from
the envelope's ``is_ext_shared_channel``, so answers posted there use that channel alone."""

from __future__ import annotations

from bot.config import Settings
from bot.events import MessagePosted
from bot.store import Store
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
