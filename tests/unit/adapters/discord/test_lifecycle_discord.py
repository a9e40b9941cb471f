"""Discord lifecycle events through discord.py's real gateway parsers: deleted channels and threads.

A deleted channel's (or thread's) history is gone for its members, so its stored messages must be
erased: otherwise they keep being summarized and cited.
"""

from __future__ import annotations

from bot.events import ChannelDeleted
from tests.unit.adapters.discord.fakes import (
    ALICE_ID,
    GENERAL_ID,
    GUILD_ID,
    PRIVATE_ID,
    feed,
    message_payload,
    next_id,
    text_channel_payload,
    thread_payload,
)
from tests.unit.adapters.discord.harness import Env, drain


async def test_a_deleted_channel_erases_its_stored_messages(env: Env) -> None:
    secret = message_payload(PRIVATE_ID, "staff only: the launch slips a week")
    feed(env.client, "MESSAGE_CREATE", secret)
    feed(env.client, "MESSAGE_CREATE", message_payload(GENERAL_ID, "hello all"))
    await drain(env.app)
    store = env.app.store
    assert len(await store.channel_messages("discord", GUILD_ID, PRIVATE_ID)) == 1

    feed(env.client, "CHANNEL_DELETE", text_channel_payload(PRIVATE_ID, "staff"))
    await drain(env.app)

    [deleted] = env.seen.of(ChannelDeleted)
    assert (deleted.channel.workspace_id, deleted.channel.channel_id) == (GUILD_ID, PRIVATE_ID)
    row = await store.get_message("discord", GUILD_ID, secret["id"])
    assert row is not None and row.deleted and row.text == ""
    assert len(await store.channel_messages("discord", GUILD_ID, GENERAL_ID)) == 1


async def test_a_deleted_thread_erases_its_messages_also_when_not_cached(env: Env) -> None:
    store = env.app.store
    thread_id = next_id()
    feed(
        env.client,
        "THREAD_CREATE",
        {**thread_payload(thread_id, GENERAL_ID, "release plan", ALICE_ID), "newly_created": True},
    )
    in_thread = message_payload(thread_id, "draft notes")
    feed(env.client, "MESSAGE_CREATE", in_thread)
    feed(env.client, "MESSAGE_CREATE", message_payload(GENERAL_ID, "in the parent"))
    await drain(env.app)
    assert len(await store.channel_messages("discord", GUILD_ID, GENERAL_ID)) == 2

    # THREAD_DELETE for a thread discord.py has cached, and one for a thread it has not (archived).
    feed(env.client, "THREAD_DELETE", {"id": thread_id, "guild_id": GUILD_ID, "parent_id": GENERAL_ID, "type": 11})
    feed(env.client, "THREAD_DELETE", {"id": next_id(), "guild_id": GUILD_ID, "parent_id": GENERAL_ID, "type": 11})
    await drain(env.app)

    row = await store.get_message("discord", GUILD_ID, in_thread["id"])
    assert row is not None and row.deleted and row.text == ""
    [parent] = await store.channel_messages("discord", GUILD_ID, GENERAL_ID)
    assert parent.text == "in the parent"
    assert len(env.seen.of(ChannelDeleted)) == 2
