"""A forgotten member leaving passes the gate without their name or time zone (the Discord adapter's
MemberLeft carries the member's profile; the event is kept on the bus like any other)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.bus import InProcessBus
from bot.events import MemberLeft, to_json
from bot.privacy.gate import RedactingBus
from bot.privacy.redact import Redactor
from bot.testing import user


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
