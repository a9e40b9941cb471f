"""A running bot keeps up with ``guildhall index docs`` run by another process (or worker)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.events import CommandReply
from bot.ml import ChatMessage
from bot.testing import ScriptedLLM, command, make_message
from brain.qa.access import AccessScope
from brain.qa.bm25 import BM25Index
from brain.qa.brain import QABrain
from brain.qa.docs import index_docs
from brain.qa.indexer import Indexer

PUBLIC = AccessScope("console", "local")
SOURCE = re.compile(r'<source n="\d+" channel="[^"]*">\n(.*?)\n</source>', re.S)


def prompt_text(llm: ScriptedLLM) -> str:
    return llm.prompts[-1][-1].content


def cite_first_source(messages: Sequence[ChatMessage]) -> str:
    """A model that answers with the last line of source 1 (grounded in it)."""
    found = SOURCE.findall(messages[-1].content)
    return f"{found[0].splitlines()[-1]} [1]" if found else "NOT_FOUND"


async def another_process(app: Any) -> Indexer:
    """What `guildhall index docs` in another shell has: the same store and vector index, its own
    lexical index (as a second worker has too)."""
    embedder = await app.services.get("embedder")
    index = await app.services.get("unit_index")
    indexer = Indexer(app.store, embedder, index, BM25Index(), clock=app.clock)
    await indexer.load()
    return indexer


async def test_a_running_bot_answers_from_docs_indexed_by_another_process(make_app: Any, tmp_path: Path) -> None:
    llm = ScriptedLLM(cite_first_source)
    app, adapter = await make_app(brains=["qa"], llm=llm)
    brain: QABrain = app.brain("qa")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "faq.md").write_text("# FAQ\n## Reset\nTo reset the widget hold the zebra button for ten seconds.\n")
    await brain.index_docs([docs])
    await adapter.inject(command("ask", "how do I reset the widget?"))
    await app.bus.drain()
    assert "zebra button" in prompt_text(llm)
    [first] = adapter.of_type(CommandReply)
    assert [c.title for c in first.citations] == ["faq.md › FAQ › Reset"]

    # Another shell: faq.md is deleted, other.md added, `guildhall index docs docs` run.
    cli = await another_process(app)
    (docs / "faq.md").unlink()
    (docs / "other.md").write_text("# Other\n## Widgets\nTo reset the widget open Settings, then Maintenance.\n")
    report = await index_docs(cli, [docs])
    assert report.removed == [str(docs / "faq.md")] and report.errors == []

    await adapter.inject(command("ask", "how do I reset the widget?"))
    await app.bus.drain()
    shown = prompt_text(llm)
    assert "zebra button" not in shown and "Settings, then Maintenance" in shown
    second = adapter.of_type(CommandReply)[-1]
    assert [c.title for c in second.citations] == ["other.md › Other › Widgets"], second.text
    status = await brain.status("console", "local")
    assert any("and 1 doc units" in line for line in status), status


async def test_every_worker_catches_up_through_the_unit_log_only_when_docs_changed(
    make_app: Any, tmp_path: Path
) -> None:
    app, _ = await make_app(brains=["qa"])
    workers = [await another_process(app), await another_process(app)]
    writer = await another_process(app)
    guide = tmp_path / "guide.md"
    guide.write_text("# Guide\n## Tokens\nRotate the bot token from the developer portal.\n")
    await index_docs(writer, [guide])
    for worker in workers:
        assert await worker.apply_changes() == 1
        assert [u.title for u in worker.bm25.units()] == ["guide.md › Guide › Tokens"]
        assert await worker.apply_changes() == 0  # nothing logged since: one cheap read, no reload
    guide.unlink()
    await index_docs(writer, [guide])
    for worker in workers:
        assert await worker.apply_changes() == 1 and len(worker.bm25) == 0


async def test_indexing_docs_in_a_running_process_removes_what_another_process_indexed(
    make_app: Any, tmp_path: Path
) -> None:
    # The bot loaded its index, then `guildhall index docs` in another shell indexed faq.md; the
    # file is deleted and the bot's own docs indexing (`guildhall run --docs`) must drop its
    # sections, though its lexical copy has not caught up with them before it started.
    app, _ = await make_app(brains=["qa"])
    brain: QABrain = app.brain("qa")
    await brain.indexer()
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "faq.md").write_text("# FAQ\n## Reset\nTo reset the widget hold the zebra button.\n")
    await index_docs(await another_process(app), [docs])
    (docs / "faq.md").unlink()
    _, errors = await brain.index_docs([docs])
    assert errors == []
    assert [u.url for u in (await another_process(app)).bm25.units()] == []  # the vector store holds none


async def test_message_units_survive_a_docs_reload(make_app: Any, tmp_path: Path) -> None:
    # Only docs units are replaced: the worker's message units stay as they are.
    app, adapter = await make_app(brains=["qa"])
    await adapter.inject(make_message("the wiki lives at wiki.example.org under Guides", author="bob"))
    await app.bus.drain()
    brain: QABrain = app.brain("qa")
    await brain.retriever()  # the index is loaded, the message indexed
    writer = await another_process(app)
    faq = tmp_path / "faq.md"
    faq.write_text("# FAQ\nThe wiki is also mirrored on the docs site.\n")
    await index_docs(writer, [faq])
    retriever = await brain.retriever()
    found = await retriever.search("wiki", PUBLIC, k=5, mode="bm25")
    assert sorted(s.unit.kind for s in found) == ["doc", "window"]
