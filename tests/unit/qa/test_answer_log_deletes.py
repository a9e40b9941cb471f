"""A deleted message leaves the answer log too: answers that cited it lose their text (privacy)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from bot.events import ChannelDeleted, MessageDeleted, Platform
from bot.ml import ChatMessage
from bot.testing import ScriptedLLM, channel, command, make_message, user
from bot.testing.builders import BASE_TIME
from brain.qa.brain import QABrain
from brain.qa.indexer import Indexer

ANSWERS = "SELECT asker_id, question, answer FROM qa_answers ORDER BY asker_id"


def echo_first_source(messages: Sequence[ChatMessage]) -> str:
    """A model that answers with the first line of source 1 (always grounded)."""
    prompt = messages[-1].content
    start = prompt.find('">\n')
    return f"{prompt[start + 3 :].splitlines()[0]} [1]" if start >= 0 else "NOT_FOUND"


async def post(app: Any, adapter: Any, *events: object) -> None:
    for e in events:
        await adapter.inject(e)
    await app.bus.drain()


async def answers(app: Any) -> dict[str, tuple[str, str]]:
    """``{asker: (question, answer)}`` as logged."""
    return {str(a): (str(q), str(t)) for a, q, t in await app.store.db.fetchall(ANSWERS)}


async def two_answers(make_app: Any) -> tuple[Any, Any, QABrain]:
    """dan's /ask answered from bob's message b1, eve's from cat's message c1 (another window)."""
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM(echo_first_source))
    await post(
        app,
        adapter,
        make_message("the vpn password is bobsecret42, ask me", author="bob", message_id="b1"),
        make_message("the zebra wiki lives at wiki.example.org/zebra", author="cat", message_id="c1", minutes=300),
    )
    await post(app, adapter, command("ask", "what is the vpn password?", author="dan"))
    await post(app, adapter, command("ask", "where does the zebra wiki live?", author="eve"))
    logged = await answers(app)
    assert "bobsecret42" in logged["dan"][1] and "wiki.example.org" in logged["eve"][1]
    return app, adapter, app.brain("qa")


async def test_deleting_a_cited_message_blanks_the_answers_quoting_it(make_app: Any) -> None:
    app, adapter, brain = await two_answers(make_app)
    await post(app, adapter, MessageDeleted(channel("general"), "b1", BASE_TIME))
    logged = await answers(app)
    # Scrubbed, not dropped: the question stays for the eval and status counts; the quote is gone.
    assert logged["dan"] == ("what is the vpn password?", "")
    assert "wiki.example.org" in logged["eve"][1]  # an answer citing something else stays
    assert (await brain.status("console", "local"))[0].startswith("Answers (last 7 days): 2 answered")
    export = await app.brain("core").export(user("dan"))
    assert "bobsecret42" not in json.dumps(export)
    assert export["qa"]["questions"][0]["question"] == "what is the vpn password?"
    # Redelivery changes nothing more.
    await post(app, adapter, MessageDeleted(channel("general"), "b1", BASE_TIME))
    assert await answers(app) == logged


async def test_the_answer_log_is_scrubbed_while_the_vector_index_is_down(make_app: Any) -> None:
    app, adapter, brain = await two_answers(make_app)

    async def unreachable() -> Indexer | None:
        return None  # what _open_indexer answers while the vector store cannot be opened

    brain._open_indexer = unreachable  # type: ignore[method-assign]
    brain._indexer = brain._retriever = None  # a restarted process: nothing loaded
    await post(app, adapter, MessageDeleted(channel("general"), "b1", BASE_TIME))
    logged = await answers(app)
    assert "bobsecret42" not in logged["dan"][1] and "wiki.example.org" in logged["eve"][1]


async def test_a_deleted_channel_blanks_the_answers_citing_it(make_app: Any) -> None:
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM(echo_first_source))
    doomed = channel("doomed")
    await post(
        app,
        adapter,
        make_message("the vpn password is bobsecret42, ask me", author="bob", chan=doomed, message_id="b1"),
        make_message("the zebra wiki lives at wiki.example.org/zebra", author="cat", message_id="c1", minutes=300),
    )
    await post(app, adapter, command("ask", "what is the vpn password?", author="dan"))
    await post(app, adapter, command("ask", "where does the zebra wiki live?", author="eve"))
    assert "bobsecret42" in (await answers(app))["dan"][1]
    await post(app, adapter, ChannelDeleted(doomed))
    logged = await answers(app)
    assert logged["dan"] == ("what is the vpn password?", "")
    assert "wiki.example.org" in logged["eve"][1]


async def test_answers_logged_before_cited_messages_were_recorded_go_by_their_units(make_app: Any) -> None:
    """Older rows name only unit ids: the thread's (a Slack one under its pre-upgrade id, another
    chunk number than now) from the store alone, a window the message sat inside from the index."""
    app, adapter = await make_app(brains=["qa"])
    bob = user("bob", platform=Platform.SLACK, workspace="T1")
    c1 = channel("C1", platform=Platform.SLACK, workspace="T1")
    root = make_message("vpn access, anyone?", author=bob, chan=c1, message_id="C1:100.1")
    await post(
        app,
        adapter,
        dataclasses.replace(root, thread_id="C1:100.1"),
        make_message("it is bobsecret42", author=bob, chan=c1, message_id="C1:100.2", thread_id="C1:100.1", minutes=1),
        make_message("loose note one", author="ann", message_id="w1", minutes=5),
        make_message("the door code is 4711", author="ann", message_id="w2", minutes=6),
    )
    await app.brain("qa").retriever()  # indexed: w2 sits in the window w1 opened
    legacy = [
        ("thread", "slack", "T1", '["thread:slack:T1:100.1#3"]', "it is bobsecret42 [1]"),
        ("other-thread", "slack", "T1", '["thread:slack:T1:C1:300.1#0"]', "unrelated [1]"),
        ("window", "console", "local", '["win:console:local:general:w1#0"]', "the door code is 4711 [1]"),
    ]
    for answer_id, p, ws, cited, text in legacy:
        # As qa-0003 wrote them (no cited_messages); literals, as the test controls every value.
        await app.store.db.execute(
            "INSERT INTO qa_answers (answer_id, platform, workspace_id, channel_id, thread_id, asker_id, question, "
            f"answer, cited, abstained, ts) VALUES ('{answer_id}', '{p}', '{ws}', 'C1', NULL, 'dan', 'vpn', "
            f"'{text}', '{cited}', 0, 0)"
        )
    await post(
        app,
        adapter,
        MessageDeleted(c1, "C1:100.2", BASE_TIME),
        MessageDeleted(channel("general"), "w2", BASE_TIME),
    )
    rows = dict(await app.store.db.fetchall("SELECT answer_id, answer FROM qa_answers"))
    assert rows == {"thread": "", "other-thread": "unrelated [1]", "window": ""}
