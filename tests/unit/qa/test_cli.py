"""``guildhall search / index / ask / eval`` against a real store and index (real MiniLM: slow)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.store import ChannelRow, MessageRow, UserRow, open_store


async def _seed(db: Path) -> None:
    store = await open_store(f"sqlite:///{db}")
    await store.upsert_channels(
        [ChannelRow("slack", "T1", "C1", "help", "public"), ChannelRow("slack", "T1", "P1", "staff", "private")]
    )
    await store.upsert_messages(
        [
            # Slack ids as the adapter and the importer store them: "<channel>:<ts>" (bot.message_ids).
            MessageRow(
                "slack", "T1", "C1:1.0", "C1", "U1", 1.0, "How do I read a CSV file with pandas?", thread_id="C1:1.0"
            ),
            MessageRow("slack", "T1", "C1:2.0", "C1", "U2", 2.0, "use pandas.read_csv('file.csv')", thread_id="C1:1.0"),
            MessageRow("slack", "T1", "P1:3.0", "P1", "U3", 3.0, "staff only: the csv export password is swordfish"),
        ]
    )
    await store.set_channel_access("slack", "T1", "P1", user_ids=["U3"])
    await store.upsert_users(
        [UserRow("slack", "T1", "U3", "Dana"), UserRow("slack", "T1", "U4", "Lee"), UserRow("slack", "T1", "U5", "lee")]
    )
    await store.close()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GUILDHALL_STORE__URL", f"sqlite:///{tmp_path / 'g.db'}")
    monkeypatch.setenv("GUILDHALL_VECTORS__PATH", str(tmp_path / "chroma"))
    monkeypatch.setenv("GUILDHALL_PRIVACY__INDEX_PRIVATE_CHANNELS", '["staff"]')
    asyncio.run(_seed(tmp_path / "g.db"))
    return tmp_path


@pytest.mark.slow
def test_index_search_eval_and_errors(env: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["index", "all", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["units_upserted"] == 2

    out = runner.invoke(app, ["search", "read csv pandas", "--channel", "help", "--json"])
    rows = json.loads(out.stdout)
    # Slack's own ids (the ts) next to the channel, as its API and exports write them.
    assert rows[0]["message_ids"] == ["1.0", "2.0"] and rows[0]["thread_id"] == "1.0"
    assert rows[0]["channel_id"] == "C1" and rows[0]["unit_id"] == "thread:slack:T1:C1:1.0#0"
    assert all("swordfish" not in r["text"] for r in rows)

    out = runner.invoke(app, ["search", "csv export password", "--as", "U3", "--json"])
    assert out.exit_code == 0, out.output
    assert any("swordfish" in r["text"] for r in json.loads(out.stdout))
    out = runner.invoke(app, ["search", "csv export password", "--as", "U1", "--json"])
    assert all("swordfish" not in r["text"] for r in json.loads(out.stdout))
    # A member may be named instead of given by id; a name two members share is refused, not guessed.
    out = runner.invoke(app, ["search", "csv export password", "--as", "dana", "--json"])
    assert out.exit_code == 0, out.output
    assert any("swordfish" in r["text"] for r in json.loads(out.stdout))
    out = runner.invoke(app, ["search", "csv export password", "--as", "Lee"])
    assert out.exit_code != 0 and "several members" in out.output

    gold = env / "qa.jsonl"
    gold.write_text(
        json.dumps(
            {"question_ts": "0.5", "question": "pandas csv?", "asker": "U9", "channel": "C1", "answer_ids": ["2.0"]}
        )
        + "\n"
    )
    out = runner.invoke(app, ["eval", "retrieval", "--questions", str(gold), "--k", "1,5", "--json"])
    assert out.exit_code == 0, out.output
    report = {r["mode"]: r for r in json.loads(out.stdout)}
    assert report["hybrid"]["recall@1"] == 1.0 and set(report) == {"bm25", "dense", "hybrid"}

    gold.write_text("{not json\n")
    assert runner.invoke(app, ["eval", "retrieval", "--questions", str(gold)]).exit_code != 0
    assert runner.invoke(app, ["search", "x", "--channel", "nope"]).exit_code != 0

    docs = env / "faq.md"
    docs.write_text("# FAQ\n## Proxy\nSet HTTPS_PROXY before pip install.\n")
    urls = env / "more.urls"
    urls.write_text("https://docs.invalid.example/faq\n")
    out = runner.invoke(app, ["index", "docs", str(docs), str(urls), "--json"])
    assert out.exit_code == 1  # the URL cannot be fetched offline, and says so
    assert "could not fetch https://docs.invalid.example/faq" in out.output
    out = runner.invoke(app, ["search", "HTTPS_PROXY pip", "--channel", "help", "--json", "--mode", "bm25"])
    assert json.loads(out.stdout)[0]["kind"] == "doc"

    out = runner.invoke(app, ["eval", "feedback", "--json"])
    assert json.loads(out.stdout)["answers"] == 0


@pytest.mark.parametrize("question", ["", "   \n"])
def test_an_empty_question_is_a_usage_error_before_any_model_loads(question: str) -> None:
    out = CliRunner().invoke(app, ["ask", question])
    assert out.exit_code == 2 and "the question is empty" in out.output


@pytest.mark.parametrize("args", [["search", "slack", "--mode", "rerank"]])
def test_rerank_without_a_model_is_a_usage_error_not_a_traceback(args: list[str]) -> None:
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 2 and "rerank needs a cross-encoder" in out.output


def test_rerank_with_a_model_that_does_not_load_is_a_usage_error_not_a_traceback(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = env / "not-a-cross-encoder"
    model.mkdir()
    monkeypatch.setenv("GUILDHALL_QA__RERANK_MODEL", str(model))
    out = CliRunner().invoke(app, ["search", "csv", "--mode", "rerank"])
    assert out.exit_code == 2 and "did not load" in out.output, out.output
    assert CliRunner().invoke(app, ["search", "csv", "--json"]).exit_code == 0  # hybrid goes on unranked
