"""Shadow mode in a restricted channel (everyone reads it bar those an overwrite keeps out): the
draft quotes the question and the channel's own history, so it never goes to a moderators channel
that the members it hides from may read. Before, #mods (public) got the draft."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from bot.clock import FakeClock
from bot.events import ChannelRef, ChannelSeen, Platform, Visibility
from bot.testing import ScriptedLLM, channel, command, make_message
from bot.testing.builders import BASE_TIME
from tests.unit.community.test_community_brain import community_settings, echo_first_source, post, sent, start

__all__ = ["community_settings"]  # the fixture, imported for pytest


async def drafts_to_mods(make_app: Any, settings: Any, visibility: Visibility) -> list[str]:
    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, settings, ScriptedLLM(echo_first_source), clock)
    staff = dataclasses.replace(
        channel("staff-help"), visibility=visibility, allowed_role_ids=("local",), denied_user_ids=("carol",)
    )
    await post(app, adapter, ChannelSeen(staff))
    await post(app, adapter, ChannelSeen(ChannelRef(Platform.CONSOLE, "local", "mods", "mods", Visibility.PUBLIC)))
    await post(app, adapter, make_message("the deploy token lives in vault at ops/deploy", author="bob", chan=staff))
    await (await app.brain("qa").indexer()).index_all()
    for setting in ("qa_help_channels staff-help", "shadow_channels staff-help", "moderators_channel mods"):
        await post(app, adapter, command("guildhall config", f"set {setting}", admin=True))
    await post(app, adapter, make_message("where does the deploy token live?", author="dan", chan=staff, minutes=5))
    await clock.advance(timedelta(minutes=30))
    await app.bus.drain()
    return [m.text for m in sent(adapter) if m.channel.channel_id == "mods"]


async def test_no_draft_from_a_restricted_channel_goes_to_another_channel(
    make_app: Any, community_settings: Any
) -> None:
    assert not any(
        "ops/deploy" in text for text in await drafts_to_mods(make_app, community_settings, Visibility.RESTRICTED)
    )


async def test_a_public_channels_draft_does_go_to_the_moderators(make_app: Any, community_settings: Any) -> None:
    assert any("ops/deploy" in text for text in await drafts_to_mods(make_app, community_settings, Visibility.PUBLIC))


async def test_no_draft_goes_to_a_moderators_channel_shared_with_another_organisation(
    make_app: Any, community_settings: Any
) -> None:
    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, community_settings, ScriptedLLM(echo_first_source), clock)
    shared_mods = ChannelRef(Platform.CONSOLE, "local", "mods", "mods", Visibility.PRIVATE, shared_externally=True)
    await post(app, adapter, ChannelSeen(channel("help")), ChannelSeen(shared_mods))
    await post(app, adapter, make_message("the deploy token lives in vault at ops/deploy", author="bob", chan="help"))
    await (await app.brain("qa").indexer()).index_all()
    for setting in ("qa_help_channels help", "shadow_channels help", "moderators_channel mods"):
        await post(app, adapter, command("guildhall config", f"set {setting}", admin=True))
    await post(app, adapter, make_message("where does the deploy token live?", author="dan", chan="help", minutes=5))
    await clock.advance(timedelta(minutes=30))
    await app.bus.drain()
    assert [m for m in sent(adapter) if m.channel.channel_id == "mods"] == []
