"""Slack Connect channels: people of another organisation read them, so an answer posted there
uses that channel's own history alone (never the workspace's public channels, nor docs). Before,
a question in a shared channel was answered from every public channel of the workspace."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.events import ChannelRef, ChannelSeen, Platform, UserRef, Visibility
from bot.testing import ScriptedLLM, make_message
from brain.qa.access import scope_for
from tests.unit.qa.test_access_dm import echo_first_source, post, prompt_text

S = Platform.SLACK
TEAM = "T1"
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
GENERAL = ChannelRef(S, TEAM, "CGEN", "general", Visibility.PUBLIC, shared_externally=False)
VENDOR = ChannelRef(S, TEAM, "CVEN", "acme-support", Visibility.PUBLIC, shared_externally=True)
INTERNAL = "The staging database password rotates on the first Monday; ask ops for the vault path"
SUPPORT = "To reset the acme webhook, rotate the signing secret in the acme dashboard"


def member(user_id: str) -> UserRef:
    return UserRef(S, TEAM, user_id, user_id)


async def shared_app(make_app: Any) -> tuple[Any, Any, ScriptedLLM]:
    llm = ScriptedLLM(echo_first_source)
    app, adapter = await make_app(brains=["qa"], llm=llm)
    await post(
        app,
        adapter,
        ChannelSeen(GENERAL, NOW),
        ChannelSeen(VENDOR, NOW),
        make_message(INTERNAL, author=member("UBOB"), chan=GENERAL, message_id="1.1"),
        make_message(SUPPORT, author=member("UBOB"), chan=VENDOR, message_id="1.2", minutes=5),
    )
    return app, adapter, llm


async def test_a_question_in_a_shared_channel_uses_that_channel_alone(make_app: Any) -> None:
    app, adapter, llm = await shared_app(make_app)
    question = "how do I rotate the staging database password or the acme signing secret?"
    await post(
        app,
        adapter,
        make_message(question, author=member("UEXT"), chan=VENDOR, message_id="2.1", mentions_bot=True, minutes=300),
    )
    text = prompt_text(llm.prompts)
    assert "acme dashboard" in text and "vault path" not in text
    # The ref of a command or an older event may not say: the store's word counts.
    unknown = ChannelRef(S, TEAM, "CVEN", "acme-support", Visibility.PUBLIC)
    scope = await scope_for(app.store, unknown, "UEXT")
    assert (scope.extra_channel_ids, scope.include_public) == (frozenset({"CVEN"}), False)
    retriever = await app.brain("qa").retriever()
    found = [s.unit.text for s in await retriever.search("staging database password vault", scope, k=10)]
    assert found and all("vault path" not in t for t in found)


async def test_the_workspaces_own_channels_may_still_use_the_shared_one(make_app: Any) -> None:
    """Everyone in the workspace reads a public shared channel: a question in #general may use it."""
    app, _, _ = await shared_app(make_app)
    scope = await scope_for(app.store, GENERAL, "UBOB")
    retriever = await app.brain("qa").retriever()
    found = [s.unit.text for s in await retriever.search("acme signing secret webhook", scope, k=10)]
    assert any("acme dashboard" in t for t in found)
