"""Experts are named (and pinged) only where they can open the question: a Slack guest reads only
the channels they are in, not every public one, and a member whose roles are not known is kept out
of a channel that denies a role (the store's safe side). Before, both were named in public and
restricted help channels."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from bot.clock import FakeClock
from bot.config import Settings
from bot.events import (
    ChannelRef,
    ChannelSeen,
    CommandReply,
    MemberUpdated,
    ReactionAdded,
    SendMessage,
    UserRef,
    Visibility,
)
from bot.testing import ScriptedLLM, channel, command, make_message, user
from bot.testing.builders import BASE_TIME
from tests.unit.community.test_community_brain import HELP, community_settings, post, sent, start

__all__ = ["community_settings"]  # the fixture, imported for pytest

GUS = dataclasses.replace(user("gus"), guest=True)


async def app_where_gus_solved(
    make_app: Any, settings: Settings, *help_channels: str, helper: UserRef = GUS
) -> tuple[Any, Any, FakeClock]:
    """The guest gus (or ``helper``) answered ann's poetry question in #help, the one channel he is
    in (ann ✅'d it)."""
    settings = settings.model_copy(
        update={"qa": settings.qa.model_copy(update={"help_channel_ids": ["help", *help_channels]})}
    )
    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, settings, ScriptedLLM("NOT_FOUND"), clock)
    root = make_message(
        "how do I pin a dependency version with poetry?",
        author="ann",
        chan=HELP,
        message_id="h1",
        thread_id="h1",
        minutes=-600,
    )
    answer = make_message(
        "pin it with poetry add requests==2.31.0 and commit poetry.lock",
        author=helper,
        chan=HELP,
        message_id="h2",
        thread_id="h1",
        minutes=-599,
    )
    await post(app, adapter, MemberUpdated(helper, BASE_TIME), root, answer)
    await post(app, adapter, ReactionAdded(HELP, "h2", user("ann"), "✅", BASE_TIME))
    await (await app.brain("qa").indexer()).index_all()
    return app, adapter, clock


async def nudge_after_the_wait(app: Any, adapter: Any, clock: FakeClock, chan: ChannelRef) -> SendMessage:
    await post(app, adapter, make_message("how do I pin a dependency with poetry?", author="dan", chan=chan))
    await clock.advance(timedelta(minutes=11))
    await app.bus.drain()
    [nudge] = sent(adapter)
    assert nudge.channel == chan and "Nobody has answered yet" in nudge.text
    return nudge


async def test_a_nudge_never_names_a_guest_who_is_not_in_the_channel(make_app: Any, community_settings: Any) -> None:
    app, adapter, clock = await app_where_gus_solved(make_app, community_settings, "help2")
    nudge = await nudge_after_the_wait(app, adapter, clock, channel("help2"))
    assert "gus" not in nudge.text and nudge.notify_user_ids == ()


async def test_a_nudge_names_a_guest_in_a_channel_he_is_in(make_app: Any, community_settings: Any) -> None:
    app, adapter, clock = await app_where_gus_solved(make_app, community_settings)
    nudge = await nudge_after_the_wait(app, adapter, clock, HELP)
    assert nudge.notify_user_ids == ("gus",)


async def test_experts_command_never_lists_a_guest_who_is_not_in_the_channel(
    make_app: Any, community_settings: Any
) -> None:
    app, adapter, _ = await app_where_gus_solved(make_app, community_settings)
    await post(app, adapter, ChannelSeen(channel("general")))
    for chan in ("general", "help"):
        await post(app, adapter, command("experts", "pinning dependencies with poetry", author="dan", chan=chan))
    elsewhere, in_help = adapter.of_type(CommandReply)[-2:]
    assert "gus" not in elsewhere.text and "• gus" in in_help.text


async def test_a_nudge_in_a_channel_denying_a_role_names_no_member_whose_roles_are_unknown(
    make_app: Any, community_settings: Any
) -> None:
    app, adapter, clock = await app_where_gus_solved(make_app, community_settings, "staff-help", helper=user("bob"))
    # Everyone reads #staff-help but the interns; nobody's roles are known to the nudge, bob's neither.
    staff = dataclasses.replace(
        channel("staff-help"),
        visibility=Visibility.RESTRICTED,
        allowed_role_ids=("local",),
        denied_role_ids=("interns",),
    )
    await post(app, adapter, ChannelSeen(staff))
    nudge = await nudge_after_the_wait(app, adapter, clock, staff)
    assert "bob" not in nudge.text and nudge.notify_user_ids == ()
