"""The Discord adapter driven through discord.py's real parser and HTTP layer (see fakes.py)."""

from __future__ import annotations

from bot.events import (
    ChannelSeen,
    CommandInvoked,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    Platform,
    ReactionAdded,
    SendDirectMessage,
    ThreadCreated,
    UserRef,
    Visibility,
)
from tests.unit.adapters.discord.fakes import (
    ALICE_ID,
    BOB_ID,
    BOT_ID,
    FORUM_ID,
    GENERAL_ID,
    GUILD_ID,
    MANAGE_GUILD,
    MOD_ROLE_ID,
    OTHER_BOT_ID,
    PRIVATE_ID,
    THREAD_ID,
    feed,
    interaction_payload,
    message_payload,
    next_id,
    thread_payload,
    user_payload,
)
from tests.unit.adapters.discord.harness import Env, drain

MESSAGES = "/channels/{channel_id}/messages"
FOLLOWUP = "/webhooks/{webhook_id}/{webhook_token}"
CALLBACK = "/interactions/{webhook_id}/{webhook_token}/callback"


async def test_guild_create_records_channel_visibility_and_access(env: Env) -> None:
    channels = {e.channel.channel_id: e.channel for e in env.seen.of(ChannelSeen)}
    assert channels[GENERAL_ID].visibility is Visibility.PUBLIC
    staff = channels[PRIVATE_ID]
    assert staff.visibility is Visibility.PRIVATE
    assert staff.allowed_role_ids == (MOD_ROLE_ID,)
    assert staff.allowed_user_ids == (BOB_ID,)
    assert channels[FORUM_ID].is_forum
    # The guild's name comes along, so digests and reports can name the community.
    await drain(env.app)
    row = await env.app.store.db.fetchone("SELECT name FROM workspaces WHERE platform = 'discord'")
    assert row == ("Guildhall Test",)


async def test_question_in_a_thread_is_answered_in_that_thread(env: Env) -> None:
    bot = user_payload(BOT_ID, "guildhall", bot=True)
    feed(env.client, "MESSAGE_CREATE", message_payload(THREAD_ID, f"<@{BOT_ID}> how do I install?", mentions=[bot]))
    await drain(env.app)
    posted = env.seen.of(MessagePosted)[-1]
    assert posted.mentions_bot and posted.thread_id == THREAD_ID and posted.channel.channel_id == GENERAL_ID
    sent = env.http.sent("POST", MESSAGES)
    assert len(sent) == 1
    assert sent[0].url.endswith(f"/channels/{THREAD_ID}/messages")
    assert sent[0].json["content"].startswith("echo:")
    assert sent[0].json["allowed_mentions"]["parse"] == []


async def test_bot_and_own_messages_are_marked_and_not_answered(env: Env) -> None:
    other = user_payload(OTHER_BOT_ID, "otherbot", bot=True)
    me = user_payload(BOT_ID, "guildhall", bot=True)
    mention = [user_payload(BOT_ID, "guildhall", bot=True)]
    feed(env.client, "MESSAGE_CREATE", message_payload(GENERAL_ID, f"<@{BOT_ID}> hi", author=other, mentions=mention))
    feed(env.client, "MESSAGE_CREATE", message_payload(GENERAL_ID, f"<@{BOT_ID}> hi", author=me, mentions=mention))
    await drain(env.app)
    posted = env.seen.of(MessagePosted)
    assert [p.author.is_bot for p in posted] == [True, True]
    assert env.http.sent("POST", MESSAGES) == []


async def test_system_messages_are_not_chat(env: Env) -> None:
    feed(env.client, "MESSAGE_CREATE", message_payload(GENERAL_ID, "", message_type=6))  # pin notice
    feed(env.client, "MESSAGE_CREATE", message_payload(GENERAL_ID, "", message_type=7))  # member join notice
    await drain(env.app)
    assert env.seen.of(MessagePosted) == []


async def test_edit_of_an_uncached_message_updates_the_stored_text(env: Env) -> None:
    original = message_payload(GENERAL_ID, "pip install guildhal")
    feed(env.client, "MESSAGE_CREATE", original)
    await drain(env.app)
    env.client._connection._messages.clear()  # type: ignore[union-attr]  # the edit must not need the cache
    edited = {**original, "content": "pip install guildhall", "edited_timestamp": "2026-11-20T10:05:00+00:00"}
    feed(env.client, "MESSAGE_UPDATE", edited)
    feed(env.client, "MESSAGE_UPDATE", edited)  # gateway redelivery after a resume
    await drain(env.app)
    edits = env.seen.of(MessageEdited)
    assert len(edits) == 1 and edits[0].text == "pip install guildhall"
    row = await env.app.store.get_message("discord", GUILD_ID, original["id"])
    assert row is not None and row.text == "pip install guildhall"


async def test_embed_only_update_is_not_an_edit(env: Env) -> None:
    payload = message_payload(GENERAL_ID, "see https://example.org")
    feed(env.client, "MESSAGE_CREATE", payload)
    # Link previews arrive as MESSAGE_UPDATE with the full message and no edited_timestamp.
    update = dict(payload)
    update["embeds"] = [{"type": "link", "url": "https://example.org"}]
    feed(env.client, "MESSAGE_UPDATE", update)
    await drain(env.app)
    assert env.seen.of(MessageEdited) == []


async def test_delete_and_bulk_delete_remove_stored_messages(env: Env) -> None:
    payloads = [message_payload(GENERAL_ID, f"message {i}") for i in range(3)]
    for p in payloads:
        feed(env.client, "MESSAGE_CREATE", p)
    await drain(env.app)
    feed(env.client, "MESSAGE_DELETE", {"id": payloads[0]["id"], "channel_id": GENERAL_ID, "guild_id": GUILD_ID})
    ids = [payloads[1]["id"], payloads[2]["id"]]
    feed(env.client, "MESSAGE_DELETE_BULK", {"ids": ids, "channel_id": GENERAL_ID, "guild_id": GUILD_ID})
    await drain(env.app)
    assert sorted(e.message_id for e in env.seen.of(MessageDeleted)) == sorted(p["id"] for p in payloads)
    for p in payloads:
        row = await env.app.store.get_message("discord", GUILD_ID, p["id"])
        assert row is None or (row.deleted and not row.text)


async def test_reaction_add_keeps_unicode_and_author(env: Env) -> None:
    message = message_payload(GENERAL_ID, "thanks!")
    feed(env.client, "MESSAGE_CREATE", message)
    reaction = {
        "user_id": BOB_ID,
        "channel_id": GENERAL_ID,
        "message_id": message["id"],
        "guild_id": GUILD_ID,
        "emoji": {"id": None, "name": "\u2705"},
        "message_author_id": ALICE_ID,
        "burst": False,
        "type": 0,
        "member": {
            "user": user_payload(BOB_ID, "bob"),
            "roles": [],
            "joined_at": "2026-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
        },
    }
    feed(env.client, "MESSAGE_REACTION_ADD", reaction)
    await drain(env.app)
    [added] = env.seen.of(ReactionAdded)
    assert added.emoji == "\u2705" and added.user.user_id == BOB_ID and added.message_author_id == ALICE_ID


async def test_forum_post_is_a_thread_and_its_starter_message_is_in_it(env: Env) -> None:
    post_id = next_id()
    thread = {**thread_payload(post_id, FORUM_ID, "Crash on start \U0001f525", ALICE_ID), "newly_created": True}
    feed(env.client, "THREAD_CREATE", thread)
    bot = user_payload(BOT_ID, "guildhall", bot=True)
    feed(
        env.client,
        "MESSAGE_CREATE",
        message_payload(post_id, f"<@{BOT_ID}> it crashes", message_id=post_id, mentions=[bot]),
    )
    await drain(env.app)
    [created] = env.seen.of(ThreadCreated)
    assert created.is_forum_post and created.thread_id == post_id and created.parent.is_forum
    posted = env.seen.of(MessagePosted)[-1]
    assert posted.thread_id == post_id and posted.channel.channel_id == FORUM_ID
    [reply] = env.http.sent("POST", MESSAGES)
    assert reply.url.endswith(f"/channels/{post_id}/messages")


async def test_slash_command_is_deferred_then_followed_up(env: Env) -> None:
    opts = [{"name": "question", "type": 3, "value": "how to install?"}]
    feed(env.client, "INTERACTION_CREATE", interaction_payload("ask", opts))
    await drain(env.app)
    methods = [(c.method, c.path) for c in env.http.calls]
    assert methods == [("POST", CALLBACK), ("POST", FOLLOWUP)]
    defer, followup = env.http.calls
    assert defer.json["type"] == 5  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
    assert followup.json["content"] == "answer to how to install?"
    assert followup.flags & 64 == 0
    [cmd] = env.seen.of(CommandInvoked)
    assert cmd.name == "ask" and cmd.options == (("question", "how to install?"),)


async def test_non_admin_calling_admin_command_is_refused_ephemerally(env: Env) -> None:
    payload = interaction_payload("config", group="guildhall", user_id=ALICE_ID)
    feed(env.client, "INTERACTION_CREATE", payload)
    await drain(env.app)
    defer, followup = env.http.calls
    assert defer.flags == 64 and followup.flags == 64
    [cmd] = env.seen.of(CommandInvoked)
    assert cmd.name == "guildhall config" and not cmd.is_platform_admin
    assert "is for community admins" in followup.json["content"]


async def test_manage_server_member_is_an_admin(env: Env) -> None:
    payload = interaction_payload("config", group="guildhall", user_id=BOB_ID, permissions=MANAGE_GUILD)
    feed(env.client, "INTERACTION_CREATE", payload)
    await drain(env.app)
    [cmd] = env.seen.of(CommandInvoked)
    assert cmd.is_platform_admin and cmd.name == "guildhall config" and cmd.text == "show"


async def test_rate_limited_followup_is_retried_not_lost(env: Env) -> None:
    env.http.rate_limit_once("POST", FOLLOWUP, retry_after=0.5)
    opts = [{"name": "question", "type": 3, "value": "rate?"}]
    feed(env.client, "INTERACTION_CREATE", interaction_payload("ask", opts))
    await drain(env.app)
    [followup] = env.http.sent("POST", FOLLOWUP)
    assert followup.json["content"] == "answer to rate?"
    assert env.sleeps.delays == [0.5]


async def test_rate_limited_channel_message_is_retried(env: Env) -> None:
    env.http.rate_limit_once("POST", MESSAGES)
    bot = user_payload(BOT_ID, "guildhall", bot=True)
    feed(env.client, "MESSAGE_CREATE", message_payload(THREAD_ID, f"<@{BOT_ID}> hello", mentions=[bot]))
    await drain(env.app)
    assert len(env.http.sent("POST", MESSAGES)) == 1
    assert env.sleeps.delays == [0.25]


async def test_dm_to_member_with_dms_closed_is_not_retried(env: Env) -> None:
    env.http.dms_closed_once()
    alice = UserRef(Platform.DISCORD, GUILD_ID, ALICE_ID, "alice")
    await env.app.bus.publish(SendDirectMessage(alice, "your digest"))
    await env.app.bus.publish(SendDirectMessage(alice, "your next digest"))
    await drain(env.app)
    assert ALICE_ID in env.adapter.dm_closed
    assert env.http.sent("POST", MESSAGES) == []
    assert len(env.http.sent("POST", "/users/@me/channels")) == 1  # the second DM was skipped


async def test_six_thousand_character_answer_is_split_into_valid_messages(env: Env) -> None:
    opts = [{"name": "question", "type": 3, "value": "long"}]
    feed(env.client, "INTERACTION_CREATE", interaction_payload("ask", opts))
    await drain(env.app)
    followups = env.http.sent("POST", FOLLOWUP)
    assert len(followups) == 3
    assert all(len(f.json["content"]) <= 2000 for f in followups)
    assert "".join(f.json["content"] for f in followups) == "x" * 6000


async def test_a_private_reply_to_a_publicly_deferred_command_stays_private(env: Env) -> None:
    # Discord shows the first follow-up of a public defer publicly whatever its flags.
    feed(
        env.client,
        "INTERACTION_CREATE",
        interaction_payload("ask", [{"name": "question", "type": 3, "value": "private"}]),
    )
    await drain(env.app)
    [note] = env.http.sent("PATCH", FOLLOWUP + "/messages/@original")
    assert note.json["content"] == "Only you can see the reply to this command."
    [reply] = env.http.sent("POST", FOLLOWUP)
    assert reply.json["content"] == "only for you" and reply.json["flags"] & 64


async def test_an_answer_outliving_its_interaction_is_posted_in_the_channel(env: Env) -> None:
    import discord

    from tests.unit.adapters.discord.fakes import FakeResponse

    gone = discord.NotFound(FakeResponse(404, "Not Found"), {"code": 10015, "message": "Unknown Webhook"})  # type: ignore[arg-type]
    env.http.fail_once("POST", FOLLOWUP, gone)
    feed(
        env.client, "INTERACTION_CREATE", interaction_payload("ask", [{"name": "question", "type": 3, "value": "slow"}])
    )
    await drain(env.app)
    [post] = env.http.sent("POST", MESSAGES)
    assert post.json["content"] == "answer to slow"
    assert env.app.bus.stats.failed == 0


async def test_a_private_note_outliving_its_interaction_goes_to_the_members_dms(env: Env) -> None:
    import discord

    from tests.unit.adapters.discord.fakes import FakeResponse

    gone = discord.NotFound(FakeResponse(404, "Not Found"), {"code": 10015, "message": "Unknown Webhook"})  # type: ignore[arg-type]
    env.http.fail_once("POST", FOLLOWUP, gone)
    feed(
        env.client,
        "INTERACTION_CREATE",
        interaction_payload("ask", [{"name": "question", "type": 3, "value": "whisper"}]),
    )
    await drain(env.app)
    assert len(env.http.sent("POST", "/users/@me/channels")) == 1  # the note went by DM
    assert "just for you" in [m.json["content"] for m in env.http.sent("POST", MESSAGES)]
    assert env.app.bus.stats.failed == 0


async def test_mass_mentions_are_neutralized(env: Env) -> None:
    bot = user_payload(BOT_ID, "guildhall", bot=True)
    feed(
        env.client,
        "MESSAGE_CREATE",
        message_payload(THREAD_ID, f"<@{BOT_ID}> @everyone <@&{MOD_ROLE_ID}>", mentions=[bot]),
    )
    await drain(env.app)
    [sent] = env.http.sent("POST", MESSAGES)
    assert "@everyone" not in sent.json["content"] and f"<@&{MOD_ROLE_ID}>" not in sent.json["content"]
