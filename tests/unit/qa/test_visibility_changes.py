"""A channel's visibility changing under live traffic: every unit of the channel follows it."""

from __future__ import annotations

from typing import Any

from bot.events import ChannelSeen, SendMessage, Visibility
from bot.testing import ScriptedLLM, channel, make_message
from brain.qa.access import AccessScope
from brain.qa.brain import QABrain

PUBLIC = AccessScope("console", "local")


def allowing_private(settings: Any, *channels: str) -> Any:
    privacy = settings.privacy.model_copy(update={"index_private_channels": list(channels)})
    return settings.model_copy(update={"privacy": privacy})


async def post(app: Any, adapter: Any, *events: object) -> None:
    for e in events:
        await adapter.inject(e)
    await app.bus.drain()


async def search(app: Any, text: str, scope: AccessScope) -> list[str]:
    brain: QABrain = app.brain("qa")
    retriever = await brain.retriever()
    return [s.unit.text for s in await retriever.search(text, scope, k=10)]


async def test_a_message_posted_after_a_channel_turned_private_takes_its_old_units_along(
    make_app: Any, settings: Any
) -> None:
    """The first event to carry the new visibility may be a message, not a ChannelSeen: the
    channel's older units must not stay public (and a later ChannelSeen must still see a change)."""
    app, adapter = await make_app(brains=["qa"], settings_override=allowing_private(settings, "ops"))
    ops = channel("ops")
    await post(app, adapter, make_message("the on-call rota lives in the ops spreadsheet", author="bob", chan=ops))
    assert any("rota" in t for t in await search(app, "on-call rota", PUBLIC))
    private_ops = channel("ops", visibility=Visibility.PRIVATE)
    # Hours later (another conversation window), the channel is private now.
    await post(app, adapter, make_message("standup moved to ten", author="carol", chan=private_ops, minutes=300))
    await post(app, adapter, ChannelSeen(private_ops))
    assert all("rota" not in t for t in await search(app, "on-call rota", PUBLIC))
    assert any(
        "rota" in t for t in await search(app, "on-call rota", AccessScope("console", "local", frozenset({"ops"})))
    )


async def test_a_channel_turned_private_while_the_index_was_not_loaded_leaves_public_answers(
    make_app: Any, settings: Any
) -> None:
    """After a restart the index loads lazily: a ChannelSeen that arrives first must still count."""
    tuned = allowing_private(settings, "ops")
    app, adapter = await make_app(brains=["qa"], settings_override=tuned)
    ops = channel("ops")
    await post(app, adapter, make_message("the on-call rota lives in the ops spreadsheet", author="bob", chan=ops))
    assert any("rota" in t for t in await search(app, "on-call rota", PUBLIC))
    llm = ScriptedLLM(lambda messages: "NOT_FOUND")
    app2, adapter2 = await make_app(brains=["qa"], llm=llm, settings_override=tuned)  # same Chroma path, new process
    await post(app2, adapter2, ChannelSeen(channel("ops", visibility=Visibility.PRIVATE)))
    await post(app2, adapter2, make_message("where is the on-call rota?", mentions_bot=True, minutes=90))
    [answer] = adapter2.of_type(SendMessage)
    assert "spreadsheet" not in answer.text and all("spreadsheet" not in c.snippet for c in answer.citations)
    assert all("spreadsheet" not in m.content for p in llm.prompts for m in p)


async def test_a_channel_another_worker_saw_turn_private_leaves_this_workers_answers(
    make_app: Any, settings: Any
) -> None:
    """With several workers, the ChannelSeen reaches one of them: the others read the change from
    the shared store before their next search (their lexical index is their own)."""
    from bot.store import ChannelRow

    app, adapter = await make_app(brains=["qa"], settings_override=allowing_private(settings, "ops"))
    await post(app, adapter, make_message("the on-call rota lives in the ops spreadsheet", author="bob", chan="ops"))
    brain: QABrain = app.brain("qa")
    await brain.retriever()
    await brain.apply_policy_changes("console", "local")
    assert any("rota" in t for t in await search(app, "on-call rota", PUBLIC))
    # What the worker that got the ChannelSeen wrote to the shared store; this one saw no event.
    await app.store.upsert_channels([ChannelRow("console", "local", "ops", "ops", "private")])
    await brain.apply_policy_changes("console", "local")
    assert all("rota" not in t for t in await search(app, "on-call rota", PUBLIC))
