"""A forgotten member leaving passes the gate without their name or time zone (the Discord adapter's
MemberLeft carries the member's profile; the event is kept on the bus like any other)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.bus import InProcessBus
from bot.events import MemberLeft, MemberLeftChannel, Visibility, to_json
from bot.privacy.forgotten import subject_of
from bot.privacy.gate import RedactingBus
from bot.privacy.redact import Redactor
from bot.testing import channel, user


async def test_a_forgotten_members_leave_carries_neither_their_name_nor_their_time_zone() -> None:
    inner = InProcessBus()
    gate = RedactingBus(inner, Redactor())
    seen: list[MemberLeft] = []

    async def spy_batch(events: Sequence[MemberLeft]) -> None:
        seen.extend(events)

    gate.subscribe_batch((MemberLeft,), spy_batch, name="test.spy_batch")
    gone = dataclasses.replace(user("gone"), name="Gone Person", tz="America/Los_Angeles")
    kept = dataclasses.replace(user("kept"), name="Kept Person", tz="Europe/Berlin")
    gate.forgotten.add(gone)
    assert await gate.publish(MemberLeft(user=gone, ts=datetime(2026, 1, 5, 9, 0, tzinfo=UTC)))
    later = datetime(2026, 1, 6, 9, 0, tzinfo=UTC)
    assert await gate.publish_many([MemberLeft(user=gone, ts=later), MemberLeft(user=kept, ts=later)]) == 2
    await gate.drain()
    gone_leaves = [e for e in seen if e.user.user_id == "gone"]
    assert len(gone_leaves) == 2
    for event in gone_leaves:
        wire = to_json(event)
        assert "Gone Person" not in wire and "America/Los_Angeles" not in wire
    assert [e.user.name for e in seen if e.user.user_id == "kept"] == ["Kept Person"]
    await gate.close()


async def test_a_forgotten_members_channel_leave_carries_no_name_either() -> None:
    # The Slack importer builds a channel_leave's member from users.json, name included.
    inner = InProcessBus()
    gate = RedactingBus(inner, Redactor())
    seen: list[MemberLeftChannel] = []

    async def spy_batch(events: Sequence[MemberLeftChannel]) -> None:
        seen.extend(events)

    gate.subscribe_batch((MemberLeftChannel,), spy_batch, name="test.spy_batch")
    gone = dataclasses.replace(user("gone"), name="Gone Person", tz="America/Los_Angeles")
    gate.forgotten.add(gone)
    at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert await gate.publish(MemberLeftChannel(gone, at, channel("mods", visibility=Visibility.PRIVATE)))
    await gate.drain()
    assert len(seen) == 1
    assert "Gone Person" not in to_json(seen[0]) and "America/Los_Angeles" not in to_json(seen[0])
    await gate.close()


def test_a_leave_is_about_its_member_for_erasure() -> None:
    # What the event logs (Redis streams, journal) erase at /forget-me: a leave carries the profile.
    gone = user("gone")
    at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert subject_of(MemberLeft(user=gone, ts=at)) == gone
    assert subject_of(MemberLeftChannel(gone, at, channel("mods", visibility=Visibility.PRIVATE))) == gone
