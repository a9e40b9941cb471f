"""Permission overwrites that keep someone out of a channel, through discord.py's real parsers.

Before: a channel @everyone could view was stored public whatever its overwrites said, so a member
(or a role: an opt-out or unverified one) an overwrite shut out of it still got its text in
answers posted where they read, in DM answers and in recommendations.
"""

from __future__ import annotations

from typing import Any

from adapters.discord.normalize import member_role_ids
from bot.events import ChannelRef, ChannelSeen, MessagePosted, ThreadCreated, Visibility
from brain.qa.access import scope_for
from tests.unit.adapters.discord.fakes import (
    ALICE_ID,
    BOB_ID,
    GENERAL_ID,
    GUILD_ID,
    MOD_ROLE_ID,
    VIEW_CHANNEL,
    feed,
    guild_create_payload,
    member_payload,
    message_payload,
    next_id,
    role_payload,
    text_channel_payload,
    thread_payload,
    user_payload,
)
from tests.unit.adapters.discord.harness import Env, drain

CAROL_ID = "900000000000000103"


def deny(target: str, *, member: bool = False) -> dict[str, Any]:
    return {"id": target, "type": 1 if member else 0, "allow": "0", "deny": str(VIEW_CHANNEL)}


def allow(target: str, *, member: bool = False) -> dict[str, Any]:
    return {"id": target, "type": 1 if member else 0, "allow": str(VIEW_CHANNEL), "deny": "0"}


async def seen_ref(
    env: Env, channel: dict[str, Any], *, roles: tuple[dict[str, Any], ...] = (), gated: bool = False
) -> ChannelRef:
    """The channel ref of a message posted in ``channel`` after a GUILD_CREATE that holds it
    (``gated``: @everyone has no View Channels server-wide, as on rules-gated servers)."""
    guild = guild_create_payload()
    guild["roles"] += list(roles)
    if gated:
        guild["roles"][0] = {**guild["roles"][0], "permissions": "0"}
    guild["channels"].append(channel)
    feed(env.client, "GUILD_CREATE", guild)
    feed(env.client, "MESSAGE_CREATE", message_payload(channel["id"], "hello"))
    await drain(env.app)
    return env.seen.of(MessagePosted)[-1].channel


async def readable(env: Env, user_id: str, *roles: str) -> set[str]:
    """Channels of the test guild ``user_id`` reads holding ``roles`` (none: roles unknown; known
    roles include @everyone, whose id is the guild's, as the adapter reports them)."""
    return await env.app.store.readable_channel_ids("discord", GUILD_ID, user_id, (GUILD_ID, *roles) if roles else ())


async def test_a_channel_everyone_views_but_an_overwrite_hides_from_some_is_restricted(env: Env) -> None:
    hide_role, other_role, channel_id = next_id(), next_id(), next_id()
    channel = text_channel_payload(channel_id, "python", overwrites=[deny(hide_role), deny(CAROL_ID, member=True)])
    ref = await seen_ref(
        env, channel, roles=(role_payload(hide_role, "No Python", 0), role_payload(other_role, "Helper", 0))
    )
    assert ref.visibility is Visibility.RESTRICTED
    assert ref.allowed_role_ids == (GUILD_ID,)  # @everyone, whose id is the guild's
    assert (ref.denied_user_ids, ref.denied_role_ids, ref.override_role_ids) == ((CAROL_ID,), (hide_role,), ())
    row = await env.app.store.get_channel("discord", GUILD_ID, channel_id)
    assert row is not None and row.visibility == "restricted"
    assert channel_id in await readable(env, ALICE_ID, other_role)  # everyone else reads it
    assert channel_id not in await readable(env, CAROL_ID, other_role)  # shut out by her own overwrite
    assert channel_id not in await readable(env, ALICE_ID, hide_role, other_role)  # holds the denied role
    assert channel_id not in await readable(env, ALICE_ID)  # roles unknown (a digest): the safe side
    # Known to hold no role but @everyone: nothing denies her.
    assert channel_id in await env.app.store.readable_channel_ids("discord", GUILD_ID, ALICE_ID, (GUILD_ID,))
    # Roles of another guild only say nothing about this one's.
    assert channel_id not in await env.app.store.readable_channel_ids("discord", GUILD_ID, ALICE_ID, (other_role,))


async def test_a_role_whose_own_overwrite_allows_outweighs_a_denied_role(env: Env) -> None:
    """Discord applies role allows after role denies: a moderator who also holds the denied
    "Member" role reads #mods; a member whose other role only has server-wide View Channels does not."""
    member_role, helper_role, channel_id = next_id(), next_id(), next_id()
    ref = await seen_ref(
        env,
        text_channel_payload(channel_id, "mods", overwrites=[deny(member_role), allow(MOD_ROLE_ID)]),
        roles=(role_payload(member_role, "Member", VIEW_CHANNEL), role_payload(helper_role, "Helper", VIEW_CHANNEL)),
        gated=True,
    )
    assert ref.visibility is Visibility.PRIVATE
    assert (ref.denied_role_ids, ref.override_role_ids) == ((member_role,), (MOD_ROLE_ID,))
    assert channel_id in await readable(env, BOB_ID, member_role, MOD_ROLE_ID)
    # Helper views every channel by its server permission, but Member's overwrite denies, and no
    # overwrite of Helper's own allows: Discord shows Alice nothing (before: Helper let her in).
    assert helper_role in ref.allowed_role_ids
    assert channel_id not in await readable(env, ALICE_ID, member_role, helper_role)
    assert channel_id in await readable(env, ALICE_ID, helper_role)


async def test_a_channel_with_only_allow_overwrites_stays_public(env: Env) -> None:
    channel_id = next_id()
    ref = await seen_ref(env, text_channel_payload(channel_id, "news", overwrites=[allow(MOD_ROLE_ID)]))
    assert ref.visibility is Visibility.PUBLIC and ref.denied_role_ids == () and ref.allowed_role_ids == ()
    assert channel_id in await readable(env, ALICE_ID)


async def test_lifting_the_denial_makes_the_channel_public_again_for_everyone(env: Env) -> None:
    channel_id = next_id()
    channel = text_channel_payload(channel_id, "python", overwrites=[deny(CAROL_ID, member=True)])
    assert (await seen_ref(env, channel)).visibility is Visibility.RESTRICTED
    assert channel_id not in await readable(env, CAROL_ID)
    feed(env.client, "CHANNEL_UPDATE", {**channel, "permission_overwrites": []})
    await drain(env.app)
    row = await env.app.store.get_channel("discord", GUILD_ID, channel_id)
    assert row is not None and row.visibility == "public"
    # The denial stored while it was restricted no longer counts (the access list is not rewritten
    # for a public channel).
    assert channel_id in await readable(env, CAROL_ID)


async def test_a_role_permission_change_is_seen_on_every_channel_of_the_guild(env: Env) -> None:
    """@everyone losing View Channels server-wide gates every channel, and Discord sends no
    channel update for it: before, #general stayed public in the store."""
    before = len(env.seen.of(ChannelSeen))
    renamed = {"guild_id": GUILD_ID, "role": role_payload(MOD_ROLE_ID, "Moderators", 0)}
    feed(env.client, "GUILD_ROLE_UPDATE", renamed)
    await drain(env.app)
    assert len(env.seen.of(ChannelSeen)) == before  # a new name changes nobody's access
    gated = {"guild_id": GUILD_ID, "role": role_payload(GUILD_ID, "@everyone", 0)}
    feed(env.client, "GUILD_ROLE_UPDATE", gated)
    await drain(env.app)
    seen = {e.channel.channel_id: e.channel for e in env.seen.of(ChannelSeen)[before:]}
    assert GENERAL_ID in seen and seen[GENERAL_ID].visibility is Visibility.PRIVATE
    row = await env.app.store.get_channel("discord", GUILD_ID, GENERAL_ID)
    assert row is not None and row.visibility == "private"
    assert GENERAL_ID not in await readable(env, ALICE_ID)
    feed(env.client, "GUILD_ROLE_DELETE", {"guild_id": GUILD_ID, "role_id": MOD_ROLE_ID})
    await drain(env.app)
    assert len(env.seen.of(ChannelSeen)) > before + len(seen)


async def test_a_dm_opens_a_role_denied_channel_only_with_the_roles_of_the_guild_it_is_answered_from(
    env: Env,
) -> None:
    """A DM names the member's roles in every cached guild. Alice is cached in guild A only, and
    holds the denied "Unverified" role in guild B, which answers her DM: before, A's roles made
    her roles look known, and B's channel hidden from her was in her DM's scope."""
    guild_a, role_a = next_id(), next_id()
    guild_b, unverified, general_b, hidden = next_id(), next_id(), next_id(), next_id()
    for guild_id, channels, members, roles in (
        (
            guild_a,
            [text_channel_payload(next_id(), "a-general")],
            [member_payload(ALICE_ID, "alice", roles=[role_a])],
            [role_payload(role_a, "A", 0)],
        ),
        (
            guild_b,
            [
                text_channel_payload(general_b, "b-general"),
                text_channel_payload(hidden, "verified", overwrites=[deny(unverified)]),
            ],
            [],
            [role_payload(unverified, "Unverified", 0)],
        ),
    ):
        guild = guild_create_payload()
        everyone = role_payload(guild_id, "@everyone", VIEW_CHANNEL)
        guild.update(id=guild_id, roles=[everyone, *roles], channels=[{**c, "guild_id": guild_id} for c in channels])
        guild.update(threads=[], members=members)
        feed(env.client, "GUILD_CREATE", guild)
    post_in_b = {**message_payload(general_b, "hi", author=user_payload(ALICE_ID, "alice")), "guild_id": guild_b}
    post_in_b["member"] = {**post_in_b["member"], "roles": [unverified]}
    feed(env.client, "MESSAGE_CREATE", post_in_b)  # B is where she posted last: B answers her DMs
    await drain(env.app)
    assert env.client.get_guild(int(guild_b)).get_member(int(ALICE_ID)) is None  # not cached in B
    dm = message_payload(next_id(), "question", author=user_payload(ALICE_ID, "alice"), guild_id=None)
    feed(env.client, "MESSAGE_CREATE", dm)
    await drain(env.app)
    asked = env.seen.of(MessagePosted)[-1]
    # Her roles where she is cached (guild A and the test guild), @everyone included; none of B's.
    assert {guild_a, role_a} <= set(asked.author_role_ids) and guild_b not in asked.author_role_ids
    scope = await scope_for(env.app.store, asked.channel, ALICE_ID, asked.author_role_ids)
    assert scope.workspace_id == guild_b and general_b in scope.extra_channel_ids
    assert hidden not in scope.extra_channel_ids


async def test_a_denied_role_missing_from_the_guild_cache_still_counts(env: Env) -> None:
    """discord.py's ``Member.roles`` drops roles its guild cache lacks; with @everyone marking the
    roles as known, a held denied role that was dropped would have opened the channel."""
    uncached, channel_id, dora = next_id(), next_id(), next_id()
    await seen_ref(env, text_channel_payload(channel_id, "verified", overwrites=[deny(uncached)]))
    feed(env.client, "GUILD_MEMBER_ADD", {"guild_id": GUILD_ID, **member_payload(dora, "dora", roles=[uncached])})
    await drain(env.app)
    member = env.client.get_guild(int(GUILD_ID)).get_member(int(dora))
    assert member is not None and [r.id for r in member.roles] == [int(GUILD_ID)]  # dropped by discord.py
    roles = member_role_ids(member)
    assert uncached in roles and GUILD_ID in roles
    assert channel_id not in await env.app.store.readable_channel_ids("discord", GUILD_ID, dora, roles)


async def test_a_private_thread_keeps_out_whom_its_parents_overwrites_keep_out(env: Env) -> None:
    """Discord shows a private thread only to those who view its parent. Before, a thread member
    whose overwrite (or role) shuts them out of the parent still had the thread in DM answers."""
    hidden_role, channel_id, thread_id = next_id(), next_id(), next_id()
    overwrites = [deny(hidden_role), deny(CAROL_ID, member=True)]
    await seen_ref(env, text_channel_payload(channel_id, "python", overwrites=overwrites))
    thread = {**thread_payload(thread_id, channel_id, "incident", ALICE_ID), "type": 12, "newly_created": True}
    feed(env.client, "THREAD_CREATE", thread)
    for author in (ALICE_ID, CAROL_ID):  # posting makes a reader of the thread, as before
        feed(env.client, "MESSAGE_CREATE", message_payload(thread_id, "rotating", author=user_payload(author, "x")))
    await drain(env.app)
    [created] = env.seen.of(ThreadCreated)
    assert (created.parent.denied_user_ids, created.parent.denied_role_ids) == ((CAROL_ID,), (hidden_role,))
    assert thread_id in await readable(env, ALICE_ID, next_id())
    assert thread_id not in await readable(env, CAROL_ID, next_id())  # her own overwrite
    assert thread_id not in await readable(env, ALICE_ID, hidden_role)  # a denied role
