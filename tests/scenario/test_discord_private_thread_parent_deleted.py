"""A deleted Discord channel takes its private threads along, also those discord.py never cached.

A private thread is stored as a private channel of its own. When its parent is deleted, Discord
sends CHANNEL_DELETE for the parent only; discord.py reports the threads it has cached as deleted,
but after a restart (or for an archived thread) it knows none, so the store must know the parent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest

from adapters.discord.adapter import DiscordAdapter, gateway_intents
from bot.app import GuildhallApp
from bot.config import Settings
from bot.events import ChannelDeleted, InboundEvent
from brain.qa.brain import QABrain
from tests.unit.adapters.discord.fakes import (
    ALICE_ID,
    GENERAL_ID,
    GUILD_ID,
    PRIVATE_ID,
    feed,
    guild_create_payload,
    install,
    message_payload,
    next_id,
    text_channel_payload,
    thread_payload,
)
from tests.unit.adapters.discord.harness import Seen, drain

WAR_ROOM = "war-room"  # the private thread's name, which an admin allowed to be indexed


def private_thread_payload(thread_id: str, parent_id: str) -> dict[str, Any]:
    """THREAD_CREATE of a private thread (type 12) Alice opened, as Discord sends it to its members."""
    payload = {**thread_payload(thread_id, parent_id, WAR_ROOM, ALICE_ID), "type": 12, "newly_created": True}
    payload["thread_metadata"] = {**payload["thread_metadata"], "invitable": False}
    return payload


def restart(client: discord.Client) -> None:
    """What a new process knows after login: discord.py's whole cache is forgotten
    (``ConnectionState.clear``, as on a fresh connection), READY names the bot again and GUILD_CREATE
    lists the guild's channels, but not an archived private thread."""
    state = client._connection
    user = state.user
    state.clear(views=False)
    state.user = user  # READY's user
    feed(client, "GUILD_CREATE", guild_create_payload())


@pytest.fixture
async def discord_qa(
    make_app: Any, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> AsyncIterator[tuple[GuildhallApp, discord.Client, Seen]]:
    privacy = settings.privacy.model_copy(update={"index_private_channels": [WAR_ROOM]})
    app, _ = await make_app(brains=["qa"], settings_override=settings.model_copy(update={"privacy": privacy}))
    client = discord.Client(intents=gateway_intents(), chunk_guilds_at_startup=False)
    async with client:
        install(client, monkeypatch)
        app.add_adapter(DiscordAdapter(settings, client=client))
        seen = Seen()
        app.bus.subscribe(InboundEvent, seen, name="test.seen")
        feed(client, "GUILD_CREATE", guild_create_payload())
        await drain(app)
        yield app, client, seen


async def test_deleting_a_channel_erases_its_uncached_private_threads_from_the_store_and_the_index(
    discord_qa: tuple[GuildhallApp, discord.Client, Seen],
) -> None:
    app, client, seen = discord_qa
    store, brain = app.store, app.brain("qa")
    assert isinstance(brain, QABrain)
    thread_id = next_id()
    feed(client, "THREAD_CREATE", private_thread_payload(thread_id, GENERAL_ID))
    secret = message_payload(thread_id, "zebrafish rollback: the vault key is hunter2")
    feed(client, "MESSAGE_CREATE", secret)
    elsewhere = message_payload(PRIVATE_ID, "zebrafish notes in #staff stay")
    feed(client, "MESSAGE_CREATE", elsewhere)
    await drain(app)
    thread = await store.get_channel("discord", GUILD_ID, thread_id)
    assert thread is not None and thread.visibility == "private" and thread.parent_id == GENERAL_ID
    await brain.retriever()  # flushes what is pending into the index
    indexer = await brain.indexer()
    assert indexer.units_in_channel_or_thread("discord", GUILD_ID, thread_id)  # the admin allowed it

    restart(client)
    assert client.get_channel(int(thread_id)) is None  # discord.py cannot report this thread deleted
    feed(client, "CHANNEL_DELETE", text_channel_payload(GENERAL_ID, "general"))
    await drain(app)

    # The parent's delete came (and one for the public thread GUILD_CREATE listed), none for the
    # private thread: only the store can tell it lived under #general.
    deleted = [e.channel.channel_id for e in seen.of(ChannelDeleted)]
    assert GENERAL_ID in deleted and thread_id not in deleted
    row = await store.get_message("discord", GUILD_ID, secret["id"])
    assert row is not None and row.deleted and row.text == ""
    await brain.retriever()
    assert indexer.units_in_channel_or_thread("discord", GUILD_ID, thread_id) == []
    assert all("hunter2" not in unit.text for unit in indexer.bm25.units())
    # Another channel's history is untouched.
    kept = await store.get_message("discord", GUILD_ID, elsewhere["id"])
    assert kept is not None and kept.text == elsewhere["content"]
