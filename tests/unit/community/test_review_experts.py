"""Experts named in nudges and by ``/experts`` (review, round 3).

* The helpfulness prior counted replies in every channel of the workspace: a member seen helping
  only in a private channel, or in one ``deny_channels`` covers, was named and pinged in a public
  help channel's nudge as having "solved similar threads". It counts only the channels the answer's
  scope allows now, and a nudge names only members with credit on a similar thread.
* The daily ping cap was read, then written later: two nudges computed at once both pinged a
  member who had one ping left. Each ping is now reserved by one conditional statement.
* ``/experts`` in a Discord DM searched the member's guild but read credits, opt-outs, bots and
  names in workspace ``@me``: it always said it knew nobody.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from bot.clock import FakeClock
from bot.config import Settings
from bot.events import (
    ChannelRef,
    ChannelSeen,
    CommandReply,
    MessagePosted,
    Platform,
    ReactionAdded,
    SendMessage,
    UserRef,
    Visibility,
)
from bot.testing import ScriptedLLM, channel, command, make_message, user
from bot.testing.builders import BASE_TIME
from tests.unit.community.test_community_brain import HELP, community_settings, post, seed_history, sent, start

__all__ = ["community_settings"]  # the fixture, imported for pytest

POETRY = "how can I pin a dependency version with poetry?"


async def sam_helps_only_in(app: Any, adapter: Any, chan: ChannelRef) -> None:
    """sam replies in three of mo's threads in ``chan``, and nowhere else."""
    for i in range(3):
        await post(
            app,
            adapter,
            make_message(
                f"our deploy step {i} fails, what now?",
                author="mo",
                chan=chan,
                message_id=f"s{i}",
                thread_id=f"s{i}",
                minutes=-500 + i,
            ),
            make_message(
                f"restart the runner number {i}",
                author="sam",
                chan=chan,
                message_id=f"s{i}r",
                thread_id=f"s{i}",
                minutes=-499 + i,
            ),
        )


async def nudge_in_help(app: Any, adapter: Any, clock: FakeClock) -> SendMessage:
    """dan's poetry question in #help, unanswered past its wait: the nudge the bot posts."""
    await (await app.brain("qa").indexer()).index_all()
    await post(app, adapter, make_message(POETRY, author="dan", chan=HELP, message_id="n1"))
    await clock.advance(timedelta(minutes=11))
    await app.bus.drain()
    nudge = sent(adapter)[-1]
    assert nudge.channel == HELP and "Nobody has answered yet" in nudge.text
    return nudge


async def test_a_public_nudge_never_names_a_member_seen_helping_only_in_a_private_channel(
    make_app: Any, community_settings: Settings
) -> None:
    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, community_settings, ScriptedLLM("NOT_FOUND"), clock)
    await seed_history(app, adapter)
    staff = channel("staff", visibility=Visibility.PRIVATE)
    await post(app, adapter, ChannelSeen(staff, member_ids=("mo", "sam")))
    await sam_helps_only_in(app, adapter, staff)
    nudge = await nudge_in_help(app, adapter, clock)
    assert "sam" not in nudge.text and "sam" not in nudge.notify_user_ids
    assert "bob" in nudge.notify_user_ids  # who did solve a similar thread is still named


async def test_a_nudge_never_names_a_member_seen_helping_only_in_a_denied_channel(
    make_app: Any, community_settings: Settings
) -> None:
    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, community_settings, ScriptedLLM("NOT_FOUND"), clock)
    await seed_history(app, adapter)
    offtopic = channel("offtopic")
    await post(app, adapter, ChannelSeen(offtopic))
    await post(app, adapter, command("guildhall config", "set deny_channels offtopic", admin=True))
    await sam_helps_only_in(app, adapter, offtopic)
    nudge = await nudge_in_help(app, adapter, clock)
    assert "sam" not in nudge.text and "sam" not in nudge.notify_user_ids


async def test_experts_in_a_public_channel_never_ranks_by_a_private_channels_replies(
    make_app: Any, community_settings: Settings
) -> None:
    app, adapter = await start(make_app, community_settings, ScriptedLLM("NOT_FOUND"))
    await seed_history(app, adapter)
    staff = channel("staff", visibility=Visibility.PRIVATE)
    await post(app, adapter, ChannelSeen(staff, member_ids=("mo", "sam")))
    await sam_helps_only_in(app, adapter, staff)
    await (await app.brain("qa").indexer()).index_all()
    await post(app, adapter, command("experts", "pinning dependencies with poetry", author="dan", chan=HELP))
    reply = adapter.of_type(CommandReply)[-1]
    assert "• bob" in reply.text and "sam" not in reply.text


async def test_nudges_computed_at_once_never_ping_a_member_past_the_daily_cap(
    make_app: Any, community_settings: Settings
) -> None:
    """max_pings_per_day=1: of two nudges computed at the same time, one names bob."""
    app, adapter = await start(make_app, community_settings, ScriptedLLM("NOT_FOUND"))
    await seed_history(app, adapter)
    brain = app.brain("community")
    first, second = await asyncio.gather(
        brain.experts_for(POETRY, HELP, user("dan"), ping=True),
        brain.experts_for("how should I pin a dependency in poetry?", HELP, user("fay"), ping=True),
    )
    named = [u for u, _ in first] + [u for u, _ in second]
    assert named.count("bob") == 1, (first, second)
    assert await app.store.db.fetchone("SELECT count FROM community_pings WHERE user_id = 'bob'") == (1,)


async def test_no_member_is_pinged_when_the_daily_cap_is_zero(make_app: Any, community_settings: Settings) -> None:
    none_a_day = community_settings.model_copy(
        update={"community": community_settings.community.model_copy(update={"max_pings_per_day": 0})}
    )
    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, none_a_day, ScriptedLLM("NOT_FOUND"), clock)
    await seed_history(app, adapter)
    nudge = await nudge_in_help(app, adapter, clock)
    assert nudge.notify_user_ids == () and "@bob" not in nudge.text
    assert await app.store.db.fetchall("SELECT user_id FROM community_pings") == []


def in_g1(name: str) -> UserRef:
    return user(name, platform=Platform.DISCORD, workspace="G1")


def poetry_thread(help_g1: ChannelRef, *also: MessagePosted) -> list[MessagePosted]:
    """ann's question in G1's help channel answered by bob (and ``also``), and dan saying hello."""
    return [
        make_message(
            "how do I pin a dependency version with poetry?",
            author=in_g1("ann"),
            chan=help_g1,
            message_id="1",
            thread_id="1",
            minutes=-600,
        ),
        make_message(
            "pin it with poetry add requests==2.31.0 and commit poetry.lock",
            author=in_g1("bob"),
            chan=help_g1,
            message_id="2",
            thread_id="1",
            minutes=-599,
        ),
        *also,
        make_message("hello all", author=in_g1("dan"), chan=help_g1, message_id="3", minutes=-10),
    ]


async def experts_asked_in_dans_dm(app: Any, adapter: Any) -> str:
    """dan's ``/experts`` about poetry pinning, asked in his DM with the bot: the reply."""
    await (await app.brain("qa").indexer()).index_all()
    dm = ChannelRef(Platform.DISCORD, "@me", "D1", "", Visibility.DM)
    dan_in_dm = user("dan", platform=Platform.DISCORD, workspace="@me")
    await post(app, adapter, command("experts", "pinning dependencies with poetry", author=dan_in_dm, chan=dm))
    return adapter.of_type(CommandReply)[-1].text


async def test_experts_in_a_discord_dm_names_the_members_guilds_experts(
    make_app: Any, community_settings: Settings
) -> None:
    app, adapter = await start(make_app, community_settings, ScriptedLLM("NOT_FOUND"))
    help_g1 = channel("H1", platform=Platform.DISCORD, workspace="G1")
    await post(app, adapter, *poetry_thread(help_g1))
    await post(app, adapter, ReactionAdded(help_g1, "2", in_g1("ann"), "✅", BASE_TIME))
    reply = await experts_asked_in_dans_dm(app, adapter)
    assert "• bob" in reply, reply


async def test_experts_in_a_discord_dm_never_names_a_member_opted_out_in_the_guild(
    make_app: Any, community_settings: Settings
) -> None:
    app, adapter = await start(make_app, community_settings, ScriptedLLM("NOT_FOUND"))
    help_g1 = channel("H1", platform=Platform.DISCORD, workspace="G1")
    carol = make_message(
        "poetry lock --no-update also keeps versions",
        author=in_g1("carol"),
        chan=help_g1,
        message_id="4",
        thread_id="1",
        minutes=-598,
    )
    await post(app, adapter, *poetry_thread(help_g1, carol))
    await post(app, adapter, ReactionAdded(help_g1, "2", in_g1("ann"), "✅", BASE_TIME))
    await post(app, adapter, command("optout", author=in_g1("bob"), chan=help_g1))
    reply = await experts_asked_in_dans_dm(app, adapter)
    assert "• carol" in reply and "bob" not in reply, reply
