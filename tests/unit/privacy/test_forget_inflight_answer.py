"""An answer takes seconds to generate; ``/forget-me`` may erase its asker, or the author of a source
it cites, meanwhile. Its erasure of the answer log and the community drafts has then run already, so
whatever is written after the model returns is checked again: nothing of the forgotten member is
stored (the answer itself may have been posted: that is allowed, the store must not keep it). A
forgotten member's later ``/ask`` is not logged either."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

from bot.clock import FakeClock
from bot.config import Settings
from bot.events import ButtonClicked, SendMessage
from bot.ml import ChatMessage, Generation
from bot.testing import ScriptedLLM, command, make_message, user
from bot.testing.builders import BASE_TIME
from brain.qa.brain import FEEDBACK_ACTION
from tests.unit.community.test_community_brain import (
    HELP,
    community_settings,
    echo_first_source,
    shadow_mode_in_help,
    start,
)

__all__ = ["community_settings"]  # the fixture, imported for pytest

SOURCE = re.compile(r'<source n="(\d+)" channel="([^"]*)">\n(.*?)\n</source>', re.S)


def _echo(messages: Sequence[ChatMessage]) -> str:
    found = SOURCE.findall(messages[-1].content)
    return f"{found[0][2].splitlines()[0]} [1]" if found else "NOT_FOUND"


class GatedLLM(ScriptedLLM):
    """A model that holds every answer until released: the member is forgotten meanwhile."""

    def __init__(self, script: Any = _echo) -> None:
        super().__init__(script)
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def generate(
        self, messages: Sequence[ChatMessage], *, max_new_tokens: int = 128, stop: Sequence[str] = ()
    ) -> Generation:
        self.entered.set()
        await self.release.wait()
        return await super().generate(messages, max_new_tokens=max_new_tokens, stop=stop)

    async def stream(
        self, messages: Sequence[ChatMessage], *, max_new_tokens: int = 128, stop: Sequence[str] = ()
    ) -> AsyncIterator[str]:
        self.entered.set()
        await self.release.wait()
        async for part in super().stream(messages, max_new_tokens=max_new_tokens, stop=stop):
            yield part


async def answers(app: Any) -> list[Any]:
    return list(await app.store.db.fetchall("SELECT asker_id, question, answer, cited_authors FROM qa_answers"))


async def test_an_answer_quoting_a_member_forgotten_while_it_was_generated_is_not_logged(make_app: Any) -> None:
    llm = GatedLLM()
    app, adapter = await make_app(brains=["qa"], llm=llm)
    await adapter.inject(make_message("the vpn password is bobsecret42, ask me", author="bob", message_id="b1"))
    await app.bus.drain()
    await app.brain("qa").retriever()
    await adapter.inject(make_message("what is the vpn password?", author="dan", mentions_bot=True, minutes=90))
    await asyncio.wait_for(llm.entered.wait(), 10)
    await app.brain("core").forget(user("bob"))
    llm.release.set()
    await app.bus.drain()
    # Posted (the model had it before the erasure), but not kept.
    [posted] = [m for m in adapter.of_type(SendMessage) if "bobsecret42" in m.text]
    assert await answers(app) == []
    assert "answers_quoting_you" not in await app.brain("qa").export_member(user("bob"))
    # A 👍 on the answer not kept is taken like one on an erased answer: no crash.
    [button] = [b for b in posted.buttons if b.action_id == FEEDBACK_ACTION and b.value.startswith("up:")]
    await adapter.inject(
        ButtonClicked(
            FEEDBACK_ACTION, button.value, user("dan"), posted.channel, "a1", "i1", BASE_TIME + timedelta(hours=2)
        )
    )
    await app.bus.drain()
    assert await answers(app) == []


async def test_an_answer_to_a_member_forgotten_while_it_was_generated_is_not_logged(make_app: Any) -> None:
    llm = GatedLLM()
    app, adapter = await make_app(brains=["qa"], llm=llm)
    await adapter.inject(make_message("the vpn password is rotated monthly", author="bob", message_id="b1"))
    await app.bus.drain()
    await app.brain("qa").retriever()
    await adapter.inject(command("ask", "zebra4711 what is the vpn password of carol?", author="dan"))
    await asyncio.wait_for(llm.entered.wait(), 10)
    await app.brain("core").forget(user("dan"))
    llm.release.set()
    await app.bus.drain()
    assert await answers(app) == []


async def test_a_forgotten_members_later_ask_is_not_logged(make_app: Any) -> None:
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    await adapter.inject(make_message("the vpn password is rotated monthly", author="bob", message_id="b1"))
    await adapter.inject(command("forget-me", "confirm", author="dan"))
    await app.bus.drain()
    await adapter.inject(command("ask", "zebra4711 where does dan live?", author="dan"))
    await app.bus.drain()
    assert await answers(app) == []


async def test_a_draft_quoting_a_member_forgotten_while_it_was_generated_is_not_kept(
    make_app: Any, community_settings: Settings
) -> None:
    llm = GatedLLM(echo_first_source)
    llm.release.set()  # the seeded history's own answers go through
    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, community_settings, llm, clock)
    await shadow_mode_in_help(app, adapter)
    llm.release.clear()
    llm.entered.clear()
    question = make_message(
        "@guildhall how do I pin a dependency with poetry?", author="dan", chan=HELP, message_id="m1", mentions_bot=True
    )
    await adapter.inject(question)
    await clock.advance(timedelta(minutes=30))
    await asyncio.wait_for(llm.entered.wait(), 10)
    await app.brain("core").forget(user("bob"))  # wrote the answer it quotes ("poetry add ...")
    llm.release.set()
    await app.bus.drain()
    assert await app.store.db.fetchall("SELECT asker_id, answer FROM community_drafts") == []
    assert not [m for m in adapter.of_type(SendMessage) if m.channel.channel_id == "mods"]
