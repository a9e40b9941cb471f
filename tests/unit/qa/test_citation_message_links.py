"""A citation of a conversation (a window of unthreaded messages, or a thread) links the message of
it that the cited sentences used: before, every citation of a unit linked the unit's first message
("[2] points to demo-0002, Tom's intro, not Leo's or Sam's")."""

from __future__ import annotations

import dataclasses
from typing import Any

from bot.events import MessagePosted
from bot.ml import ScoredUnit, Unit
from bot.testing import HashEmbedder, ScriptedLLM, make_message
from brain.qa.access import AccessScope
from brain.qa.answerer import Answerer
from tests.unit.qa.test_brain import post, replies

TOM = "Hi all, Tom here. I maintain the docs of a small Rust web framework and lurk a lot."
LEO = "Hi everyone, I'm Leo. Just found Guildhall while looking for a bot that answers repeated questions in our Slack."
SAM = "Sam here, running a ~3k member Python study group on Discord, mostly beginners asking about virtualenvs."


def linked(text: str, *, author: str, minutes: float, **kw: Any) -> MessagePosted:
    message = make_message(text, author=author, minutes=minutes, **kw)
    return dataclasses.replace(message, permalink=f"https://chat.example/{message.message_id}")


async def test_a_window_citation_links_the_message_the_sentence_used(make_app: Any) -> None:
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM(f"{LEO} [1]"))
    tom, leo, sam = (
        linked(TOM, author="tom", minutes=0),
        linked(LEO, author="leo", minutes=1),
        linked(SAM, author="sam", minutes=2),
    )
    await post(app, adapter, tom, leo, sam)
    await post(app, adapter, make_message("who found guildhall looking for a bot?", mentions_bot=True, minutes=90))
    [answer] = replies(adapter)
    assert answer.text == f"{LEO[:-1]} [1]."
    [citation] = answer.citations
    assert citation.url == leo.permalink, citation.url
    assert citation.snippet.startswith("Hi everyone, I'm Leo")  # the linked message, not the window's start


async def test_a_thread_citation_links_the_reply_and_falls_back_to_the_unit_without_one(make_app: Any) -> None:
    answer_text = "Wrap the await in async with asyncio.timeout(5) and catch TimeoutError around it."
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM(f"{answer_text} [1]"))
    root = linked("What's the cleanest way to add a timeout to an await in 3.11?", author="kenji", minutes=0)
    reply = linked(answer_text, author="chen", minutes=1, thread_id=root.message_id)
    await post(app, adapter, root, reply)
    await post(app, adapter, make_message("how do I add a timeout to an await?", mentions_bot=True, minutes=90))
    [citation] = replies(adapter)[-1].citations
    assert citation.url == reply.permalink


async def test_a_message_spanning_lines_is_found_by_its_stored_text() -> None:
    """A unit's text is its messages' texts joined by line breaks; a message of several lines is
    located by its stored text, as the question's own message is (``context.without_messages``)."""
    texts = {"m1": "Welcome!\nRead the pinned post first.", "m2": "To reset the token run\n`guildhall token reset`"}
    unit = Unit(
        "win:slack:T1:C1:m1#0",
        "slack",
        "T1",
        "C1",
        "\n".join(texts.values()),
        message_ids=("m1", "m2"),
        author_ids=("a", "b"),
        url="https://x/m1",
        kind="window",
    )

    class Ranked:
        async def search(self, *_: object, **__: object) -> list[ScoredUnit]:
            return [ScoredUnit(unit, 1.0)]

    async def name(_: ScoredUnit) -> str:
        return "#help"

    async def text_of(_p: str, _w: str, mid: str) -> str | None:
        return texts.get(mid)

    async def link_of(_p: str, _w: str, mid: str) -> str | None:
        return f"https://x/{mid}"

    answerer = Answerer(
        Ranked(),  # type: ignore[arg-type]
        ScriptedLLM("To reset the token run `guildhall token reset` [1]."),
        HashEmbedder(),
        channel_name=name,
        message_text=text_of,
        message_link=link_of,
    )
    result = await answerer.answer("how do I reset the token?", AccessScope("slack", "T1"))
    assert [c.url for c in result.citations] == ["https://x/m2"]
