"""Restricted channels (everyone reads them bar those a Discord overwrite keeps out) in answers.

Before: such a channel was public, so its text reached answers posted in public channels and DM
answers to the very members the overwrite hid it from.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.events import ChannelRef, ChannelSeen, Platform, Visibility
from bot.testing import ScriptedLLM, make_message
from brain.qa.access import scope_for
from tests.unit.qa.test_access_dm import ask_in_dm, echo_first_source, member, post, prompt_text

D = Platform.DISCORD
GUILD = "111"
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
GENERAL = ChannelRef(D, GUILD, "900", "general", Visibility.PUBLIC)
# Carol is shut out of #python by her own overwrite; #lounge hides from the "No Lounge" role 555.
PYTHON = ChannelRef(
    D, GUILD, "902", "python", Visibility.RESTRICTED, allowed_role_ids=(GUILD,), denied_user_ids=("44",)
)
LOUNGE = ChannelRef(
    D, GUILD, "903", "lounge", Visibility.RESTRICTED, allowed_role_ids=(GUILD,), denied_role_ids=("555",)
)
TIP = "Pin the event loop policy with asyncio.set_event_loop_policy before uvloop.install"


async def restricted_app(make_app: Any) -> tuple[Any, Any, ScriptedLLM]:
    """No index_private_channels: a restricted channel is indexed like a public one."""
    llm = ScriptedLLM(echo_first_source)
    app, adapter = await make_app(brains=["qa"], llm=llm)
    await post(
        app,
        adapter,
        *(ChannelSeen(c, NOW, workspace_name="Guild") for c in (GENERAL, PYTHON, LOUNGE)),
        make_message("welcome to the guild, read the rules", author=member("42", "bob"), chan=GENERAL),
        make_message(TIP, author=member("42", "bob"), chan=PYTHON, message_id="5101", minutes=5),
        make_message("hi all", author=member("43", "alice"), chan=GENERAL, message_id="5102", minutes=300),
        make_message("hi all", author=member("44", "carol"), chan=GENERAL, message_id="5103", minutes=301),
    )
    return app, adapter, llm


async def test_a_restricted_channel_never_reaches_an_answer_in_a_public_channel(make_app: Any) -> None:
    app, adapter, llm = await restricted_app(make_app)
    question = make_message(
        "how do I pin the event loop policy before uvloop?",
        author=member("43", "alice"),
        chan=GENERAL,
        message_id="6101",
        mentions_bot=True,
        minutes=400,
    )
    await post(app, adapter, question)
    assert "set_event_loop_policy" not in prompt_text(llm.prompts)
    retriever = await app.brain("qa").retriever()
    public = await retriever.search("event loop policy uvloop", await scope_for(app.store, GENERAL, "43"), k=10)
    inside = await retriever.search("event loop policy uvloop", await scope_for(app.store, PYTHON, "43"), k=10)
    assert all("set_event_loop_policy" not in s.unit.text for s in public)
    assert any("set_event_loop_policy" in s.unit.text for s in inside)  # indexed without index_private_channels


async def test_a_question_inside_the_restricted_channel_may_use_it(make_app: Any) -> None:
    app, adapter, _ = await restricted_app(make_app)
    question = make_message(
        "how do I pin the event loop policy before uvloop?",
        author=member("43", "alice"),
        chan=PYTHON,
        message_id="6102",
        mentions_bot=True,
        minutes=400,
    )
    await post(app, adapter, question)
    [reply] = [a for a in adapter.actions if getattr(a, "channel", None) == PYTHON]
    assert "set_event_loop_policy" in reply.text


async def test_a_dm_uses_a_restricted_channel_only_for_those_it_does_not_hide_from(make_app: Any) -> None:
    app, adapter, llm = await restricted_app(make_app)
    alice = await ask_in_dm(app, adapter, "43", "alice", "how do I pin the event loop policy before uvloop?", "6103")
    assert "set_event_loop_policy" in alice.text and [c.title for c in alice.citations] == ["#python 2026-01-05"]
    before = len(llm.prompts)
    carol = await ask_in_dm(app, adapter, "44", "carol", "how do I pin the event loop policy before uvloop?", "6104")
    assert "set_event_loop_policy" not in carol.text
    assert "set_event_loop_policy" not in prompt_text(llm.prompts[before:])


async def test_a_role_denial_closes_the_channel_to_its_holders_and_to_unknown_roles(make_app: Any) -> None:
    app, _, _ = await restricted_app(make_app)
    dm = ChannelRef(D, "@me", "dm-43", "", Visibility.DM)
    # Known roles hold @everyone (the guild's id), as the adapter reports them.
    assert LOUNGE.channel_id in (await scope_for(app.store, dm, "43", (GUILD, "666"))).extra_channel_ids
    assert LOUNGE.channel_id not in (await scope_for(app.store, dm, "43", (GUILD, "555", "666"))).extra_channel_ids
    # Roles unknown (a DM from an uncached member): whether Alice holds 555 is unknown, so the lounge stays out.
    assert LOUNGE.channel_id not in (await scope_for(app.store, dm, "43")).extra_channel_ids
