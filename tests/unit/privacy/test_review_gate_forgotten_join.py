"""A forgotten member's join passes the gate without their personal data (name, time zone)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.bus import InProcessBus
from bot.events import MemberJoined, to_json
from bot.privacy.gate import RedactingBus
from bot.privacy.redact import Redactor
from bot.testing import user


async def test_a_forgotten_members_join_carries_neither_their_name_nor_their_time_zone() -> None:
    inner = InProcessBus()
    gate = RedactingBus(inner, Redactor())
    seen: list[MemberJoined] = []

    async def spy(event: MemberJoined) -> None:
        seen.append(event)

    async def spy_batch(events: Sequence[MemberJoined]) -> None:
        seen.extend(events)

    gate.subscribe(MemberJoined, spy, name="test.spy")
    gate.subscribe_batch((MemberJoined,), spy_batch, name="test.spy_batch")
    gone = dataclasses.replace(user("gone"), name="Gone Person", tz="America/Los_Angeles")
    kept = dataclasses.replace(user("kept"), name="Kept Person", tz="Europe/Berlin")
    gate.forgotten.add(gone)
    at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert await gate.publish(MemberJoined(user=gone, ts=at))
    # A later join (a member who left and came back): not a duplicate of the first.
    later = datetime(2026, 1, 6, 9, 0, tzinfo=UTC)
    assert await gate.publish_many([MemberJoined(user=gone, ts=later), MemberJoined(user=kept, ts=later)]) == 2
    await gate.drain()
    forgotten_joins = [e for e in seen if e.user.user_id == "gone"]
    assert len(forgotten_joins) == 4  # one per path, each seen by both subscribers
    for event in forgotten_joins:
        wire = to_json(event)  # what the Redis bus keeps in its streams
        assert "Gone Person" not in wire and "America/Los_Angeles" not in wire
        assert event.user.user_id == "gone"  # the join itself still arrives (access lists)
    kept_joins = [e for e in seen if e.user.user_id == "kept"]
    assert kept_joins and all(e.user.name == "Kept Person" and e.user.tz == "Europe/Berlin" for e in kept_joins)
    await gate.close()
