"""A member removed from (or leaving) a Discord private thread stops reading it in the store."""

from __future__ import annotations

from bot.events import MemberLeftChannel
from tests.unit.adapters.discord.fakes import (
    ALICE_ID,
    BOB_ID,
    BOT_ID,
    GENERAL_ID,
    GUILD_ID,
    THREAD_ID,
    feed,
    message_payload,
    next_id,
    thread_payload,
    user_payload,
)
from tests.unit.adapters.discord.harness import Env, drain


def _members_update(thread_id: str, *, removed: list[str]) -> dict[str, object]:
    """A THREAD_MEMBERS_UPDATE (``discord.types.gateway.ThreadMembersUpdate``)."""
    return {
        "id": thread_id,
        "guild_id": GUILD_ID,
        "member_count": 1,
        "added_members": [],
        "removed_member_ids": removed,
    }


async def test_a_member_removed_from_a_private_thread_no_longer_reads_it(env: Env) -> None:
    """Bob posted in Alice's private thread, so the store lets him read it; once a moderator (or
    Bob himself) takes him out, answers and recommendations must stop drawing on it for him."""
    thread_id = next_id()
    private = {**thread_payload(thread_id, GENERAL_ID, "incident", ALICE_ID), "type": 12, "newly_created": True}
    feed(env.client, "THREAD_CREATE", private)
    feed(env.client, "MESSAGE_CREATE", message_payload(thread_id, "looking", author=user_payload(BOB_ID, "bob")))
    await drain(env.app)
    store = env.app.store
    assert thread_id in await store.readable_channel_ids("discord", GUILD_ID, BOB_ID)

    feed(env.client, "THREAD_MEMBERS_UPDATE", _members_update(thread_id, removed=[BOB_ID]))
    await drain(env.app)

    [left] = env.seen.of(MemberLeftChannel)
    assert left.user.user_id == BOB_ID and left.channel.channel_id == thread_id
    assert thread_id not in await store.readable_channel_ids("discord", GUILD_ID, BOB_ID)
    assert thread_id in await store.readable_channel_ids("discord", GUILD_ID, ALICE_ID)  # the others stay


async def test_leaving_a_public_thread_or_the_bot_leaving_changes_no_access(env: Env) -> None:
    """A public thread is read by whoever reads its channel: leaving it takes nothing away. The
    bot's own removal is no member's."""
    feed(env.client, "THREAD_MEMBERS_UPDATE", _members_update(THREAD_ID, removed=[BOB_ID]))
    thread_id = next_id()
    private = {**thread_payload(thread_id, GENERAL_ID, "incident", ALICE_ID), "type": 12, "newly_created": True}
    feed(env.client, "THREAD_CREATE", private)
    feed(env.client, "THREAD_MEMBERS_UPDATE", _members_update(thread_id, removed=[BOT_ID]))
    await drain(env.app)
    assert env.seen.of(MemberLeftChannel) == []


async def test_several_members_removed_at_once_are_each_taken_off_once(env: Env) -> None:
    thread_id = next_id()
    private = {**thread_payload(thread_id, GENERAL_ID, "incident", ALICE_ID), "type": 12, "newly_created": True}
    feed(env.client, "THREAD_CREATE", private)
    feed(env.client, "MESSAGE_CREATE", message_payload(thread_id, "here", author=user_payload(BOB_ID, "bob")))
    carol = next_id()
    feed(env.client, "MESSAGE_CREATE", message_payload(thread_id, "me too", author=user_payload(carol, "carol")))
    await drain(env.app)
    feed(env.client, "THREAD_MEMBERS_UPDATE", _members_update(thread_id, removed=[BOB_ID, carol]))
    await drain(env.app)
    left = sorted(e.user.user_id for e in env.seen.of(MemberLeftChannel))
    assert left == sorted([BOB_ID, carol])
    for member in (BOB_ID, carol):
        assert thread_id not in await env.app.store.readable_channel_ids("discord", GUILD_ID, member)
