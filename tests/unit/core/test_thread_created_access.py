"""A thread's opening never re-grants what its parent's ChannelSeen took away.

ThreadCreated adds to the stored access list (it does not replace it). Its ref of a parent
channel may be older than the parent's latest ChannelSeen (a backfill racing live events): before,
a role removed from a private channel came back with the next thread opened in it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.events import ChannelRef, ChannelSeen, Platform, ThreadCreated, UserRef, Visibility

D = Platform.DISCORD
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def staff(*roles: str) -> ChannelRef:
    return ChannelRef(D, "G1", "C1", "staff", Visibility.PRIVATE, allowed_role_ids=roles)


async def test_a_stale_parent_ref_does_not_bring_a_removed_role_back(make_app: Any) -> None:
    app, adapter = await make_app(brains=[])
    for event in (
        ChannelSeen(staff("R_OLD"), NOW),
        ChannelSeen(staff("R_NEW"), NOW + timedelta(minutes=1)),  # R_OLD lost access
        ThreadCreated(staff("R_OLD"), "T1", "plans", UserRef(D, "G1", "U1"), NOW),  # a stale ref
    ):
        await adapter.inject(event)
    await app.bus.drain()
    assert "C1" not in await app.store.readable_channel_ids("discord", "G1", "U9", ("G1", "R_OLD"))
    assert "C1" in await app.store.readable_channel_ids("discord", "G1", "U9", ("G1", "R_NEW"))


async def test_a_private_thread_brings_its_own_readers(make_app: Any) -> None:
    app, adapter = await make_app(brains=[])
    thread = ChannelRef(D, "G1", "T2", "secret plans", Visibility.PRIVATE, allowed_user_ids=("U2",), parent_id="C1")
    await adapter.inject(ThreadCreated(thread, "T2", "secret plans", UserRef(D, "G1", "U1"), NOW))
    await app.bus.drain()
    for reader in ("U1", "U2"):
        assert "T2" in await app.store.readable_channel_ids("discord", "G1", reader)
    assert "T2" not in await app.store.readable_channel_ids("discord", "G1", "U3")


async def test_a_stale_parent_ref_does_not_bring_a_removed_reader_back(make_app: Any) -> None:
    app, adapter = await make_app(brains=[])

    def staff_of(*users: str) -> ChannelRef:
        return ChannelRef(D, "G1", "C1", "staff", Visibility.PRIVATE, allowed_user_ids=users)

    for event in (
        ChannelSeen(staff_of("U_OLD"), NOW),
        ChannelSeen(staff_of("U_NEW"), NOW + timedelta(minutes=1)),  # U_OLD's overwrite removed
        ThreadCreated(staff_of("U_OLD"), "T1", "plans", UserRef(D, "G1", "U1"), NOW),  # a stale ref
    ):
        await adapter.inject(event)
    await app.bus.drain()
    assert "C1" not in await app.store.readable_channel_ids("discord", "G1", "U_OLD")
    assert "C1" in await app.store.readable_channel_ids("discord", "G1", "U_NEW")


async def test_opening_a_thread_makes_nobody_a_reader_of_its_parent(make_app: Any) -> None:
    """Before, the starter of a public thread in a role-gated channel got a reader row of their own:
    after losing the role (or when a backfill re-sent an old thread of someone since shut out) they
    still read the channel in answers, recommendations and digests."""
    app, adapter = await make_app(brains=[])
    await adapter.inject(ChannelSeen(staff("RSTAFF"), NOW))
    await adapter.inject(ThreadCreated(staff("RSTAFF"), "T1", "plans", UserRef(D, "G1", "U1"), NOW))
    await app.bus.drain()
    assert "C1" not in await app.store.readable_channel_ids("discord", "G1", "U1", ("G1",))  # the role is gone
    assert "C1" in await app.store.readable_channel_ids("discord", "G1", "U1", ("G1", "RSTAFF"))
