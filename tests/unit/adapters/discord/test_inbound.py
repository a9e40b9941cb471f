"""Gateway payloads through discord.py's real parsers: intents, DMs, joins, robustness, redelivery."""

from __future__ import annotations

import logging
from typing import Any

import discord
import pytest

from adapters.discord.adapter import DiscordAdapter, gateway_intents, make_client
from bot.config import Settings
from bot.events import (
    ButtonClicked,
    CommandInvoked,
    InboundEvent,
    MemberJoined,
    MemberLeft,
    MessageDeleted,
    MessagePosted,
    ReactionAdded,
    ReactionRemoved,
    ThreadCreated,
    Visibility,
)
from bot.store import ChannelRow
from tests.unit.adapters.discord.fakes import (
    ALICE_ID,
    BOB_ID,
    BOT_ID,
    GATEWAY_GUILD_MEMBERS_LIMITED,
    GENERAL_ID,
    GUILD_ID,
    MANAGE_GUILD,
    MOD_ROLE_ID,
    PRIVATE_ID,
    THREAD_ID,
    VIEW_CHANNEL,
    FakeResponse,
    RecordingHTTP,
    feed,
    guild_create_payload,
    install,
    interaction_payload,
    member_payload,
    message_payload,
    next_id,
    thread_payload,
    user_payload,
)
from tests.unit.adapters.discord.harness import EchoBrain, Env, Seen, drain

MESSAGES = "/channels/{channel_id}/messages"
FOLLOWUP = "/webhooks/{webhook_id}/{webhook_token}"
BOT_MENTION = [user_payload(BOT_ID, "guildhall", bot=True)]


def reaction_payload(message_id: str, *, emoji: str = "\U0001f44d") -> dict[str, Any]:
    """MESSAGE_REACTION_ADD / _REMOVE (``discord.types.gateway.MessageReactionAddEvent``)."""
    return {
        "user_id": BOB_ID,
        "channel_id": GENERAL_ID,
        "message_id": message_id,
        "guild_id": GUILD_ID,
        "emoji": {"id": None, "name": emoji},
        "burst": False,
        "type": 0,
    }


# ---------------------------------------------------------------------------------- intents


async def test_missing_message_content_intent_warns_once_and_keeps_mentions_and_commands(
    make_app: Any, discord_settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app, _ = await make_app(extra_brains=[EchoBrain])
    first = discord.Client(intents=gateway_intents())
    first_http = install(first, monkeypatch)
    first_http.app_flags = GATEWAY_GUILD_MEMBERS_LIMITED  # portal: members on, message content off
    replacements: list[RecordingHTTP] = []

    def factory(settings: Settings, *, intents: discord.Intents) -> discord.Client:
        client = make_client(settings, intents=intents)
        replacements.append(install(client, monkeypatch))
        return client

    adapter = DiscordAdapter(discord_settings, client=first, client_factory=factory)
    app.add_adapter(adapter)
    seen = Seen()
    app.bus.subscribe(InboundEvent, seen, name="test.seen")
    caplog.set_level(logging.WARNING, logger="adapters.discord.adapter")

    await adapter.login("token")
    await adapter.login("token")  # a later login (restart) does not warn again

    warnings = [r.getMessage() for r in caplog.records if "INTENT" in r.getMessage()]
    assert len(warnings) == 1
    assert "MESSAGE CONTENT INTENT" in warnings[0] and "SERVER MEMBERS" not in warnings[0]
    assert "discord.com/developers/applications" in warnings[0] and "Privileged Gateway Intents" in warnings[0]
    client = adapter.client
    assert client is not first and not client.intents.message_content and client.intents.members
    http = replacements[0]

    feed(client, "GUILD_CREATE", guild_create_payload())
    # Without the intent Discord blanks ordinary messages but keeps the text of mentions.
    feed(client, "MESSAGE_CREATE", message_payload(GENERAL_ID, ""))
    feed(client, "MESSAGE_CREATE", message_payload(THREAD_ID, f"<@{BOT_ID}> help?", mentions=BOT_MENTION))
    feed(client, "INTERACTION_CREATE", interaction_payload("ask", [{"name": "question", "type": 3, "value": "q"}]))
    await drain(app)

    assert [p.text for p in seen.of(MessagePosted)] == ["", f"<@{BOT_ID}> help?"]
    [reply] = http.sent("POST", MESSAGES)
    assert reply.json["content"] == f"echo: <@{BOT_ID}> help?"
    [followup] = http.sent("POST", FOLLOWUP)
    assert followup.json["content"] == "answer to q"


async def test_enabled_intents_keep_the_client_and_log_nothing(
    env: Env, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="adapters.discord.adapter")
    await env.adapter.login("token")
    assert env.adapter.client is env.client and env.client.intents.message_content
    assert [r for r in caplog.records if "INTENT" in r.getMessage()] == []


async def test_intents_refused_by_the_gateway_reconnect_without_them(
    make_app: Any, discord_settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Backstop: a 4014 close (portal changed after login) reconnects without privileged intents."""
    app, _ = await make_app()
    first = discord.Client(intents=gateway_intents())
    install(first, monkeypatch)
    connected: list[discord.Intents] = []

    async def refused(*, reconnect: bool = True) -> None:
        raise discord.PrivilegedIntentsRequired(None)

    async def connect(*, reconnect: bool = True) -> None:  # the websocket is the one leaf faked here
        connected.append(adapter.client.intents)

    def factory(settings: Settings, *, intents: discord.Intents) -> discord.Client:
        client = make_client(settings, intents=intents)
        install(client, monkeypatch)
        monkeypatch.setattr(client, "connect", connect)
        return client

    monkeypatch.setattr(first, "connect", refused)
    adapter = DiscordAdapter(discord_settings, client=first, client_factory=factory)
    app.add_adapter(adapter)
    caplog.set_level(logging.WARNING, logger="adapters.discord.adapter")
    await adapter._run("token")
    [intents] = connected
    assert not intents.message_content and not intents.members and intents.guild_messages
    assert len([r for r in caplog.records if "MESSAGE CONTENT INTENT" in r.getMessage()]) == 1


async def test_rejected_token_fails_start_with_a_precise_message(env: Env) -> None:
    body = {"message": "401: Unauthorized", "code": 0}
    env.http.fail_once("GET", "/users/@me", discord.HTTPException(FakeResponse(401, "Unauthorized"), body))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="DISCORD_TOKEN was rejected"):
        await env.adapter.start()
    assert env.adapter._task is None  # no gateway task left behind


async def test_an_unreachable_discord_fails_start_with_one_line(env: Env) -> None:
    import aiohttp

    dns = aiohttp.ClientConnectorDNSError(
        aiohttp.client_reqrep.ConnectionKey("discord.com", 443, True, True, None, None, None),
        OSError(-2, "Name or service not known"),
    )
    env.http.fail_once("GET", "/users/@me", dns)
    with pytest.raises(ValueError, match=r"cannot reach discord\.com"):
        await env.adapter.start()
    assert env.adapter._task is None


# ------------------------------------------------------------------------------ inbound kinds


async def test_dm_is_a_dm_channel_outside_any_guild(env: Env) -> None:
    dm_channel = next_id()
    feed(env.client, "MESSAGE_CREATE", message_payload(dm_channel, "how do I install?", guild_id=None))
    await drain(env.app)
    [posted] = env.seen.of(MessagePosted)
    assert posted.channel.visibility is Visibility.DM and posted.channel.workspace_id == "@me"
    assert posted.channel.channel_id == dm_channel and posted.author.user_id == ALICE_ID


async def test_message_in_private_channel_carries_its_access(env: Env) -> None:
    feed(env.client, "MESSAGE_CREATE", message_payload(PRIVATE_ID, "staff only"))
    await drain(env.app)
    [posted] = env.seen.of(MessagePosted)
    assert posted.channel.visibility is Visibility.PRIVATE
    assert posted.channel.allowed_role_ids == (MOD_ROLE_ID,) and posted.channel.allowed_user_ids == (BOB_ID,)


async def test_member_join_is_published(env: Env) -> None:
    newcomer = next_id()
    feed(env.client, "GUILD_MEMBER_ADD", {**member_payload(newcomer, "carol"), "guild_id": GUILD_ID})
    await drain(env.app)
    [joined] = env.seen.of(MemberJoined)
    assert joined.user.user_id == newcomer and joined.user.workspace_id == GUILD_ID and not joined.user.is_bot


async def test_a_member_who_leaves_the_guild_is_marked_and_a_return_clears_it(env: Env) -> None:
    """GUILD_MEMBER_REMOVE (left, kicked, banned) -> MemberLeft: no more digests; joining again clears it."""
    leaver = next_id()
    feed(env.client, "GUILD_MEMBER_REMOVE", {"guild_id": GUILD_ID, "user": user_payload(leaver, "dora")})
    await drain(env.app)
    [left] = env.seen.of(MemberLeft)
    assert left.user.user_id == leaver and left.user.workspace_id == GUILD_ID
    store = env.app.store
    assert await store.get_member_setting("discord", GUILD_ID, leaver, "left") is True
    feed(env.client, "GUILD_MEMBER_ADD", {**member_payload(leaver, "dora"), "guild_id": GUILD_ID})
    await drain(env.app)
    assert await store.get_member_setting("discord", GUILD_ID, leaver, "left") is None


async def test_reaction_remove_is_published(env: Env) -> None:
    message = message_payload(GENERAL_ID, "nice")
    feed(env.client, "MESSAGE_CREATE", message)
    feed(env.client, "MESSAGE_REACTION_ADD", reaction_payload(message["id"]))
    feed(env.client, "MESSAGE_REACTION_REMOVE", reaction_payload(message["id"]))
    await drain(env.app)
    [added] = env.seen.of(ReactionAdded)
    [removed] = env.seen.of(ReactionRemoved)
    assert added.emoji == removed.emoji == "\U0001f44d"
    assert removed.user.user_id == BOB_ID and removed.message_id == message["id"]


async def test_thread_in_a_text_channel_is_not_a_forum_post(env: Env) -> None:
    thread_id = next_id()
    feed(env.client, "THREAD_CREATE", {**thread_payload(thread_id, GENERAL_ID, "Q", ALICE_ID), "newly_created": True})
    await drain(env.app)
    [created] = env.seen.of(ThreadCreated)
    assert not created.is_forum_post and created.parent.channel_id == GENERAL_ID and created.title == "Q"
    assert created.author.user_id == ALICE_ID


async def test_a_private_thread_is_a_private_channel_of_its_own(env: Env) -> None:
    """A private thread (type 12) under #general is not readable by everyone who reads #general:
    its messages are recorded in a private channel open to its owner and the members who post."""
    thread_id = next_id()
    private = {**thread_payload(thread_id, GENERAL_ID, "incident", ALICE_ID), "type": 12, "newly_created": True}
    feed(env.client, "THREAD_CREATE", private)
    feed(env.client, "MESSAGE_CREATE", message_payload(thread_id, "the db password leaked, rotating"))
    await drain(env.app)
    [created] = env.seen.of(ThreadCreated)
    [posted] = env.seen.of(MessagePosted)
    for ref in (created.parent, posted.channel):
        assert ref.channel_id == thread_id and ref.visibility is Visibility.PRIVATE
    assert ALICE_ID in created.parent.allowed_user_ids and posted.thread_id == thread_id
    store = env.app.store
    assert thread_id in await store.readable_channel_ids("discord", GUILD_ID, ALICE_ID)  # the owner
    assert thread_id in await store.readable_channel_ids("discord", GUILD_ID, posted.author.user_id)
    outsider = await store.readable_channel_ids("discord", GUILD_ID, next_id())
    assert thread_id not in outsider
    general = await store.get_channel("discord", GUILD_ID, GENERAL_ID)
    assert general is None or general.visibility == "public"  # the parent is untouched


async def test_delete_in_an_uncached_channel_keeps_the_guild(env: Env) -> None:
    unknown = next_id()
    feed(env.client, "MESSAGE_DELETE", {"id": next_id(), "channel_id": unknown, "guild_id": GUILD_ID})
    await drain(env.app)
    [deleted] = env.seen.of(MessageDeleted)
    assert deleted.channel.workspace_id == GUILD_ID and deleted.channel.channel_id == unknown
    assert deleted.channel.visibility is Visibility.PRIVATE  # who reads it is unknown: never guessed public


async def test_a_message_in_an_uncached_channel_never_makes_it_public(env: Env) -> None:
    """A gateway cache miss must not turn a private channel public in the store: an unknown
    channel is private until a ChannelSeen (guild ready, channel update) says otherwise."""
    unknown = next_id()
    await env.app.store.set_channel_access("discord", GUILD_ID, unknown, user_ids=[BOB_ID])
    feed(env.client, "MESSAGE_CREATE", message_payload(unknown, "payroll numbers attached"))
    await drain(env.app)
    [posted] = env.seen.of(MessagePosted)
    assert posted.channel.channel_id == unknown and posted.channel.visibility is Visibility.PRIVATE
    row = await env.app.store.get_channel("discord", GUILD_ID, unknown)
    assert row is not None and row.visibility == "private"
    outsider = await env.app.store.readable_channel_ids("discord", GUILD_ID, next_id())
    assert unknown not in outsider


async def test_a_cache_miss_does_not_hide_a_channel_stored_as_public(env: Env) -> None:
    """The miss is private for whoever acts on the event, but the store keeps the visibility the
    last ChannelSeen gave it: a public channel must not vanish from answers and digests."""
    public = next_id()
    await env.app.store.upsert_channels([ChannelRow("discord", GUILD_ID, public, "help", "public")])
    feed(env.client, "MESSAGE_CREATE", message_payload(public, "how do I pin a dependency?"))
    await drain(env.app)
    [posted] = env.seen.of(MessagePosted)
    assert posted.channel.visibility is Visibility.PRIVATE and not posted.channel.visibility_known
    row = await env.app.store.get_channel("discord", GUILD_ID, public)
    assert row is not None and (row.visibility, row.name) == ("public", "help")
    assert public in await env.app.store.readable_channel_ids("discord", GUILD_ID, next_id())


async def test_slash_command_options_and_admin_facts(env: Env) -> None:
    options = [{"name": "period", "type": 3, "value": "week"}, {"name": "channel", "type": 7, "value": GENERAL_ID}]
    payload = interaction_payload("leaderboard", options)
    payload["data"]["resolved"] = {
        "channels": {GENERAL_ID: {"id": GENERAL_ID, "type": 0, "name": "general", "permissions": "0"}}
    }
    feed(env.client, "INTERACTION_CREATE", payload)
    await drain(env.app)
    [cmd] = env.seen.of(CommandInvoked)
    assert cmd.name == "leaderboard" and cmd.options == (("period", "week"), ("channel", GENERAL_ID))
    assert cmd.channel.channel_id == GENERAL_ID and not cmd.is_platform_admin


# ------------------------------------------------------------------------------- robustness


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("MESSAGE_CREATE", {"id": "1", "channel_id": GENERAL_ID, "guild_id": GUILD_ID}),  # no author
        ("MESSAGE_CREATE", {"id": "not-a-snowflake", "channel_id": GENERAL_ID, "author": None}),
        ("MESSAGE_UPDATE", {"channel_id": GENERAL_ID}),
        ("MESSAGE_DELETE", {"channel_id": GENERAL_ID}),
        ("MESSAGE_DELETE_BULK", {"ids": None, "channel_id": GENERAL_ID}),
        ("MESSAGE_REACTION_ADD", {"user_id": BOB_ID, "channel_id": GENERAL_ID, "message_id": "1"}),
        ("THREAD_CREATE", {"id": "1", "guild_id": GUILD_ID}),
        ("GUILD_MEMBER_ADD", {"guild_id": GUILD_ID}),
        ("INTERACTION_CREATE", {"id": "1", "type": 2}),
        ("GUILD_CREATE", {"id": "bad"}),
    ],
)
async def test_malformed_payload_is_logged_and_skipped(
    env: Env, caplog: pytest.LogCaptureFixture, event: str, payload: dict[str, Any]
) -> None:
    caplog.set_level(logging.WARNING)
    before = len(env.seen.events)
    feed(env.client, event, payload)  # must not raise: this is the gateway loop's call
    await drain(env.app)
    assert any("malformed" in r.getMessage() or "failed" in r.getMessage() for r in caplog.records)
    assert len(env.seen.events) == before
    # The connection is still useful: the next good message goes through.
    feed(env.client, "MESSAGE_CREATE", message_payload(THREAD_ID, f"<@{BOT_ID}> still there?", mentions=BOT_MENTION))
    await drain(env.app)
    assert env.seen.of(MessagePosted)[-1].text.endswith("still there?")
    assert len(env.http.sent("POST", MESSAGES)) == 1


async def test_redelivered_gateway_events_are_harmless(env: Env) -> None:
    """After a RESUME Discord may replay dispatches; event ids make the replay a no-op. A reaction
    carries no time of its own, so its replay cannot be told from the member adding it again (which
    must get through: 👍 taken back and given again); it is published again and stored once."""
    message = message_payload(THREAD_ID, f"<@{BOT_ID}> once", mentions=BOT_MENTION)
    thread_id = next_id()
    thread = {**thread_payload(thread_id, GENERAL_ID, "T", ALICE_ID), "newly_created": True}
    for _ in range(2):
        feed(env.client, "MESSAGE_CREATE", message)
        feed(env.client, "THREAD_CREATE", thread)
        feed(env.client, "MESSAGE_REACTION_ADD", reaction_payload(message["id"]))
        await drain(env.app)
    assert len(env.seen.of(MessagePosted)) == 1
    assert len(env.seen.of(ThreadCreated)) == 1
    assert len(env.seen.of(ReactionAdded)) == 2
    reactions = "SELECT user_id, emoji FROM reactions WHERE message_id = ?"
    assert len(await env.app.store.db.fetchall(reactions, (message["id"],))) == 1
    assert len(env.http.sent("POST", MESSAGES)) == 1  # answered once
    stored = await env.app.store.get_message("discord", GUILD_ID, message["id"])
    assert stored is not None and stored.text == f"<@{BOT_ID}> once"


async def test_button_click_is_acknowledged_and_published(env: Env) -> None:
    bot_message = message_payload(GENERAL_ID, "Was this helpful?", author=user_payload(BOT_ID, "guildhall", bot=True))
    payload = interaction_payload("unused")
    payload.update(type=3, data={"custom_id": "qa.feedback:up:42", "component_type": 2}, message=bot_message)
    feed(env.client, "INTERACTION_CREATE", payload)
    await drain(env.app)
    [click] = env.seen.of(ButtonClicked)
    assert (click.action_id, click.value) == ("qa.feedback", "up:42")
    assert click.user.user_id == ALICE_ID and click.message_id == bot_message["id"]
    [ack] = env.http.sent("POST", "/interactions/{webhook_id}/{webhook_token}/callback")
    assert ack.json["type"] == 6  # DEFERRED_UPDATE_MESSAGE: acknowledged within 3 s, message unchanged
    assert not click.is_platform_admin  # alice does not manage the server


async def test_a_click_carries_the_clickers_admin_facts(env: Env) -> None:
    """A shadow-mode draft's "Approve" is for admins: the click says whether the member manages the server."""
    bot_message = message_payload(GENERAL_ID, "Draft", author=user_payload(BOT_ID, "guildhall", bot=True))
    payload = interaction_payload("unused", permissions=VIEW_CHANNEL | MANAGE_GUILD)
    payload.update(type=3, data={"custom_id": "community.draft:approve:d1", "component_type": 2}, message=bot_message)
    feed(env.client, "INTERACTION_CREATE", payload)
    await drain(env.app)
    [click] = env.seen.of(ButtonClicked)
    assert click.is_platform_admin


async def test_a_brains_answer_to_a_click_goes_back_through_the_click_not_to_dms(env: Env) -> None:
    bot_message = message_payload(GENERAL_ID, "Forget you?", author=user_payload(BOT_ID, "guildhall", bot=True))
    payload = interaction_payload("unused")
    payload.update(
        type=3, data={"custom_id": "guildhall.forget_me.confirm:confirm", "component_type": 2}, message=bot_message
    )
    feed(env.client, "INTERACTION_CREATE", payload)
    await drain(env.app)
    [answer] = env.http.sent("POST", "/webhooks/{webhook_id}/{webhook_token}")
    assert answer.json["content"].startswith("Done:") and answer.json["flags"] & 64  # ephemeral
    assert env.http.sent("POST", "/users/@me/channels") == []  # no DM opened for it


async def test_a_server_that_lets_only_a_member_role_read_keeps_its_channels_readable_by_that_role(
    env: Env,
) -> None:
    """Rules-gated servers: @everyone has no View Channels at the server level, a "Member" role
    does. Every channel is private, and readable by the roles whose server permissions (or an
    overwrite) let them view it, not by nobody: an empty access list hid the whole server."""
    member_role, gated_id, hidden_id = next_id(), next_id(), next_id()
    guild = guild_create_payload()
    guild["id"] = gated_id
    everyone, *roles = guild["roles"]
    guild["roles"] = [
        {**everyone, "id": gated_id, "permissions": "0"},  # @everyone's id is the guild's
        *roles,
        {**everyone, "id": member_role, "name": "Member", "permissions": str(VIEW_CHANNEL)},
    ]
    general = {**guild["channels"][0], "id": next_id(), "guild_id": gated_id}
    mods_only = [
        {"id": member_role, "type": 0, "allow": "0", "deny": str(VIEW_CHANNEL)},
        {"id": MOD_ROLE_ID, "type": 0, "allow": str(VIEW_CHANNEL), "deny": "0"},
    ]
    hidden = {**guild["channels"][0], "id": hidden_id, "guild_id": gated_id, "permission_overwrites": mods_only}
    guild.update(channels=[general, hidden], threads=[])
    feed(env.client, "GUILD_CREATE", guild)
    feed(env.client, "MESSAGE_CREATE", {**message_payload(general["id"], "hello"), "guild_id": gated_id})
    feed(env.client, "MESSAGE_CREATE", {**message_payload(hidden_id, "mods"), "guild_id": gated_id})
    await drain(env.app)
    open_to_members, mods = (e.channel for e in env.seen.of(MessagePosted))
    assert open_to_members.visibility is Visibility.PRIVATE and open_to_members.allowed_role_ids == (member_role,)
    assert mods.allowed_role_ids == (MOD_ROLE_ID,)
