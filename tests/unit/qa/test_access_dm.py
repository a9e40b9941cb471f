"""Discord DMs with the bot are answered from the asker's guild (``brain.qa.access.scope_for``).

A Discord DM belongs to no guild (workspace ``@me``); before the fix its scope held no community
unit at all, so a question answered in #general got "I couldn't find this" in a DM.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from adapters.discord.normalize import DM_WORKSPACE
from bot.events import ChannelRef, ChannelSeen, MemberLeft, Platform, SendMessage, UserRef, Visibility
from bot.ml import ChatMessage
from bot.permissions import DISCORD_DM_WORKSPACE
from bot.testing import ScriptedLLM, make_message
from brain.qa.access import scope_for
from prompts import render_prompt

D = Platform.DISCORD
GUILD = "111"
OTHER_GUILD = "222"
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
GENERAL = ChannelRef(D, GUILD, "900", "general", Visibility.PUBLIC)
STAFF = ChannelRef(D, GUILD, "901", "staff", Visibility.PRIVATE, allowed_user_ids=("42",), allowed_role_ids=("777",))
FIX = "To fix ERR_CONNECTION_REFUSED start the dev server with npm run dev"
SECRET = "Rotate STAGING_TOKEN with vault kv put secret/staging token=new"
ABSTAIN = render_prompt("qa_abstain", channel="#help")
SOURCE = re.compile(r'<source n="(\d+)" channel="([^"]*)">\n(.*?)\n</source>', re.S)


def echo_first_source(messages: Sequence[ChatMessage]) -> str:
    """A model that answers with the first line of source 1 (always grounded)."""
    found = SOURCE.findall(messages[-1].content)
    return f"{found[0][2].splitlines()[0]} [1]" if found else "NOT_FOUND"


def allowing_private(settings: Any, *channels: str) -> Any:
    """Settings where an admin allowed indexing of the given private channels (bot.privacy policy)."""
    privacy = settings.privacy.model_copy(update={"index_private_channels": list(channels)})
    return settings.model_copy(update={"privacy": privacy})


async def post(app: Any, adapter: Any, *events: object) -> None:
    for e in events:
        await adapter.inject(e)
    await app.bus.drain()


def member(user_id: str, name: str, guild: str = GUILD) -> UserRef:
    return UserRef(D, guild, user_id, name)


def dm_of(user_id: str, name: str) -> tuple[ChannelRef, UserRef]:
    """A DM with the bot as the Discord adapter reports it: workspace ``@me``."""
    return ChannelRef(D, DM_WORKSPACE, f"dm-{user_id}", "", Visibility.DM), UserRef(D, DM_WORKSPACE, user_id, name)


def prompt_text(prompts: Sequence[Sequence[ChatMessage]]) -> str:
    return "\n".join(m.content for p in prompts for m in p)


async def guild_app(make_app: Any, settings: Any) -> tuple[Any, Any, ScriptedLLM]:
    """#general holds the fix, #staff (Bob and role 777 only) a secret; Alice has posted in #general."""
    llm = ScriptedLLM(echo_first_source)
    app, adapter = await make_app(brains=["qa"], llm=llm, settings_override=allowing_private(settings, "staff"))
    await post(
        app,
        adapter,
        ChannelSeen(GENERAL, NOW, workspace_name="Guild"),
        ChannelSeen(STAFF, NOW, workspace_name="Guild"),
        make_message(FIX, author=member("42", "bob"), chan=GENERAL, message_id="5001"),
        make_message(SECRET, author=member("42", "bob"), chan=STAFF, message_id="5002", minutes=5),
        make_message("hello everyone", author=member("43", "alice"), chan=GENERAL, message_id="5003", minutes=300),
    )
    return app, adapter, llm


async def ask_in_dm(app: Any, adapter: Any, user_id: str, name: str, text: str, message_id: str) -> SendMessage:
    dm, asker = dm_of(user_id, name)
    await post(app, adapter, make_message(text, author=asker, chan=dm, message_id=message_id, minutes=600))
    [reply] = [a for a in adapter.of_type(SendMessage) if a.channel == dm]
    return reply


def test_the_dm_workspace_is_the_adapters() -> None:
    assert DISCORD_DM_WORKSPACE == DM_WORKSPACE


async def test_a_dm_question_is_answered_from_the_guilds_public_history(make_app: Any, settings: Any) -> None:
    app, adapter, _ = await guild_app(make_app, settings)
    reply = await ask_in_dm(app, adapter, "43", "alice", "how do I fix ERR_CONNECTION_REFUSED?", "6001")
    assert "npm run dev" in reply.text and reply.text.endswith("[1]")
    assert [c.title for c in reply.citations] == ["#general 2026-01-05"]


async def test_a_dm_may_use_a_private_channel_the_member_reads(make_app: Any, settings: Any) -> None:
    app, adapter, _ = await guild_app(make_app, settings)
    reply = await ask_in_dm(app, adapter, "42", "bob", "how do I rotate the STAGING_TOKEN?", "6002")
    assert "vault kv put" in reply.text and [c.title for c in reply.citations] == ["#staff 2026-01-05"]


async def test_a_dm_never_uses_a_private_channel_the_member_cannot_read(make_app: Any, settings: Any) -> None:
    app, adapter, llm = await guild_app(make_app, settings)
    reply = await ask_in_dm(app, adapter, "43", "alice", "how do I rotate the STAGING_TOKEN?", "6003")
    assert "vault" not in reply.text and all(c.title != "#staff 2026-01-05" for c in reply.citations)
    assert "vault kv put" not in prompt_text(llm.prompts)


async def test_a_member_of_no_known_guild_gets_the_docs_only_answer(make_app: Any, settings: Any) -> None:
    app, adapter, llm = await guild_app(make_app, settings)
    reply = await ask_in_dm(app, adapter, "99", "stranger", "how do I fix ERR_CONNECTION_REFUSED?", "6004")
    assert reply.text == ABSTAIN and not reply.citations
    assert llm.prompts == []  # no community unit reached the model
    dm, _ = dm_of("99", "stranger")
    scope = await scope_for(app.store, dm, "99")
    assert (scope.workspace_id, scope.extra_channel_ids) == (DM_WORKSPACE, frozenset({dm.channel_id}))


async def test_a_member_who_left_the_guild_is_no_longer_answered_from_it(make_app: Any, settings: Any) -> None:
    app, adapter, _ = await guild_app(make_app, settings)
    await post(app, adapter, MemberLeft(member("43", "alice"), NOW))
    reply = await ask_in_dm(app, adapter, "43", "alice", "how do I fix ERR_CONNECTION_REFUSED?", "6005")
    assert reply.text == ABSTAIN


async def test_role_ids_open_the_role_gated_channels_of_a_dm(make_app: Any, settings: Any) -> None:
    app, _, _ = await guild_app(make_app, settings)
    dm, _ = dm_of("43", "alice")
    without = await scope_for(app.store, dm, "43")
    with_role = await scope_for(app.store, dm, "43", ("777",))
    assert (without.workspace_id, with_role.workspace_id) == (GUILD, GUILD)
    assert without.extra_channel_ids == {GENERAL.channel_id}
    assert with_role.extra_channel_ids == {GENERAL.channel_id, STAFF.channel_id}


async def test_a_member_of_several_guilds_is_answered_from_the_one_they_posted_in_last(
    make_app: Any, settings: Any
) -> None:
    app, adapter, _ = await guild_app(make_app, settings)
    other = ChannelRef(D, OTHER_GUILD, "950", "general", Visibility.PUBLIC)
    await post(
        app,
        adapter,
        ChannelSeen(other, NOW, workspace_name="Other"),
        make_message(
            "ERR_CONNECTION_REFUSED here means the proxy is down", author=member("44", "carol", OTHER_GUILD), chan=other
        ),
        # Alice's latest post (minute 300) is in GUILD; this one is older.
        make_message("hi", author=member("43", "alice", OTHER_GUILD), chan=other, minutes=100),
    )
    dm, _ = dm_of("43", "alice")
    assert (await scope_for(app.store, dm, "43")).workspace_id == GUILD
    reply = await ask_in_dm(app, adapter, "43", "alice", "how do I fix ERR_CONNECTION_REFUSED?", "6006")
    assert "npm run dev" in reply.text and "proxy" not in reply.text
    # Now she is most active in the other guild: it answers, alone.
    await post(
        app, adapter, make_message("thanks!", author=member("43", "alice", OTHER_GUILD), chan=other, minutes=900)
    )
    scope = await scope_for(app.store, dm, "43")
    assert scope.workspace_id == OTHER_GUILD and scope.extra_channel_ids == {"950"}


async def test_other_platforms_dms_keep_their_workspace(make_app: Any, settings: Any) -> None:
    app, _, _ = await guild_app(make_app, settings)
    slack_dm = ChannelRef(Platform.SLACK, "T1", "D1", "", Visibility.DM)
    scope = await scope_for(app.store, slack_dm, "43")
    assert (scope.platform, scope.workspace_id, scope.extra_channel_ids) == ("slack", "T1", frozenset({"D1"}))
