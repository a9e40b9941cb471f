"""A Discord server that removes the bot, through discord.py's real gateway parser: GUILD_DELETE
publishes WorkspaceRemoved (scheduled jobs stop posting there); GUILD_CREATE (invited again) ends it."""

from __future__ import annotations

from bot.events import Platform, WorkspaceRef, WorkspaceRemoved
from tests.unit.adapters.discord.fakes import GENERAL_ID, GUILD_ID, feed, guild_create_payload, message_payload
from tests.unit.adapters.discord.harness import Env, drain


async def removed(env: Env) -> set[tuple[str, str]]:
    """What the scheduled jobs skip, through the brains' shared helper."""
    return await env.app.brain("echo").ctx.removed_workspaces()


async def test_a_kick_is_published_recorded_and_ended_by_joining_again(env: Env) -> None:
    feed(env.client, "MESSAGE_CREATE", message_payload(GENERAL_ID, "hello all"))
    await drain(env.app)

    feed(env.client, "GUILD_DELETE", {"id": GUILD_ID})  # kicked, or the server was deleted
    await drain(env.app)

    [event] = env.seen.of(WorkspaceRemoved)
    assert event.workspace == WorkspaceRef(Platform.DISCORD, GUILD_ID, "Guildhall Test")
    assert "kicked" in event.reason
    assert await removed(env) == {("discord", GUILD_ID)}
    # The history stays (retention purges it on its own schedule).
    assert len(await env.app.store.channel_messages("discord", GUILD_ID, GENERAL_ID)) == 1

    feed(env.client, "GUILD_CREATE", guild_create_payload())  # invited again: on_guild_join
    await drain(env.app)
    assert await removed(env) == set()


async def test_an_outage_is_not_a_removal(env: Env) -> None:
    # GUILD_DELETE with ``unavailable``: Discord lost the server for a while; the bot is still in it.
    feed(env.client, "GUILD_DELETE", {"id": GUILD_ID, "unavailable": True})
    await drain(env.app)
    assert env.seen.of(WorkspaceRemoved) == []
    assert await removed(env) == set()
