"""``guildhall eval shadow``: solved threads replayed with their question removed from the history."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.ml import ChatMessage
from bot.store import ChannelRow, MessageRow, Store, open_store
from bot.testing import HashEmbedder, ScriptedLLM
from brain.community.shadow_eval import evaluate_shadow, solved_cases

SOURCE = re.compile(r'<source n="(\d+)" channel="([^"]*)">\n(.*?)\n</source>', re.S)


def answer_from_source_1(messages: Sequence[ChatMessage]) -> str:
    found = SOURCE.findall(messages[-1].content)
    return f"{found[0][2].splitlines()[-1]} [1]" if found else "NOT_FOUND"


async def seed(store: Store) -> None:
    await store.upsert_channels([ChannelRow("slack", "T1", "C1", "help", "public")])
    rows = [
        ("q1", "ann", 100.0, "how do I pin a dependency version in poetry", "q1"),
        ("a1", "bob", 160.0, "run poetry add requests@^2.31 to pin the dependency version", "q1"),
        ("q2", "cat", 200.0, "docker build fails with ENOSPC no space left on device", "q2"),
        ("a2", "dan", 260.0, "prune old docker images with docker system prune to free space", "q2"),
        ("q3", "eve", 300.0, "anyone going to the meetup?", "q3"),
        ("a3", "fay", 360.0, "yes see you there", "q3"),
        ("x1", "zed", 400.0, "my ENOSPC docker secret is hunter2 pin poetry", None),
    ]
    await store.upsert_messages(
        [MessageRow("slack", "T1", mid, "C1", who, ts, text, thread_id=tid) for mid, who, ts, text, tid in rows]
    )
    for tid, accepted in (("q1", "a1"), ("q2", "a2")):
        await store.upsert_thread("slack", "T1", tid, "C1", ts=0.0)
        await store.mark_thread_solved("slack", "T1", tid, accepted)
    await store.set_member_setting("slack", "T1", "zed", "opted_out", True)


async def test_replay_reports_sources_citations_and_abstains(make_app) -> None:
    app, _ = await make_app(brains=[])
    store, settings = app.store, app.settings
    await seed(store)
    cases = await solved_cases(store)
    assert sorted((c.thread_id, c.accepted_id, c.asker_id) for c in cases) == [("q1", "a1", "ann"), ("q2", "a2", "cat")]

    llm = ScriptedLLM(answer_from_source_1)
    report = await evaluate_shadow(store, settings, cases, embedder=HashEmbedder(), llm=llm)
    assert (report.threads, report.sources, report.cited, report.abstained) == (2, 2, 2, 0)
    shown = " ".join(m.content for prompt in llm.prompts for m in prompt)
    # The question itself was removed from the replayed history, and opted-out members never show up.
    assert "how do I pin a dependency version in poetry" not in shown.split("Question:")[0]
    assert "hunter2" not in shown

    silent = await evaluate_shadow(store, settings, cases, embedder=HashEmbedder(), llm=ScriptedLLM("NOT_FOUND"))
    assert (silent.cited, silent.abstained) == (0, 2)
    fast = await evaluate_shadow(store, settings, cases, embedder=HashEmbedder(), llm=None)
    assert fast.as_dict()["sources_rate"] == 1.0 and "cited" not in fast.as_dict()


async def test_sampling_is_seeded_and_channel_filtered(make_app) -> None:
    app, _ = await make_app(brains=[])
    await seed(app.store)
    one = await solved_cases(app.store, sample=1, seed=3)
    assert len(one) == 1 and one == await solved_cases(app.store, sample=1, seed=3)
    assert await solved_cases(app.store, channel_id="C404") == []
    empty = await evaluate_shadow(app.store, app.settings, [], embedder=HashEmbedder(), llm=None)
    assert empty.as_dict()["sources_rate"] is None


@pytest.mark.slow
def test_eval_shadow_cli_with_the_bundled_embedder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli import app

    async def prepare() -> None:
        store = await open_store(f"sqlite:///{tmp_path / 'g.db'}")
        await seed(store)
        await store.close()

    asyncio.run(prepare())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GUILDHALL_STORE__URL", f"sqlite:///{tmp_path / 'g.db'}")
    monkeypatch.setenv("GUILDHALL_VECTORS__PATH", str(tmp_path / "chroma"))
    out = CliRunner().invoke(app, ["eval", "shadow", "--sources-only", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["threads"] == 2 and data["sources"] == 2
    text = CliRunner().invoke(app, ["eval", "shadow", "--sources-only", "--channel", "C404"])
    assert text.exit_code == 0 and "no solved threads" in text.output
