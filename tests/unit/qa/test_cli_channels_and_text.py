"""``guildhall ask`` / ``search`` / ``eval retrieval`` on what the command line and gold files hold:
a channel name two workspaces share is refused with the candidates (it was picked by guess), a
byte a Latin-1 terminal sent or half an emoji is read instead of ending in a traceback, and a gold
question is asked as its asker."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.store import ChannelRow, MessageRow, UserRow, open_store
from bot.testing import ScriptedLLM
from tests.unit.qa.test_cli_ask import asked, llm

__all__ = ["llm"]  # the fixture: test_cli_ask's app on fake models, with a Slack #help thread indexed


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def words(output: str) -> str:
    """An error message that a box may wrap, as one line."""
    return " ".join(w for w in output.split() if w not in {"│", "╭", "╰"})


def search(*args: str) -> list[dict[str, Any]]:
    out = invoke("search", *args, "--json")
    assert out.exit_code == 0, out.output
    return list(json.loads(out.stdout))


async def _add(url: str, channels: list[ChannelRow], messages: list[MessageRow], users: list[UserRow]) -> None:
    store = await open_store(url)
    await store.upsert_channels(channels)
    await store.upsert_messages(messages)
    await store.upsert_users(users)
    await store.close()


@pytest.fixture
def two_generals(llm: ScriptedLLM, db_env: str) -> ScriptedLLM:
    """#general in a Slack team and in a Discord guild, and a Discord channel whose id is a Slack one's."""
    asyncio.run(
        _add(
            db_env,
            [
                ChannelRow("slack", "T1", "C2", "general", "public"),
                ChannelRow("discord", "G1", "222", "general", "public"),
                ChannelRow("discord", "G1", "C1", "random", "public"),
            ],
            [
                MessageRow("slack", "T1", "C2:3.0", "C2", "U1", 3.0, "the csv reader guide is in the slack wiki"),
                MessageRow("discord", "G1", "30", "222", "d1", 3.0, "the csv reader guide is in the discord wiki"),
            ],
            [],
        )
    )
    assert invoke("index", "all").exit_code == 0
    return llm


def test_a_channel_name_of_two_workspaces_is_refused_with_the_candidates(two_generals: ScriptedLLM) -> None:
    for command in ("search", "ask"):
        out = invoke(command, "csv reader guide wiki", "--channel", "general")
        assert out.exit_code == 2, out.output
        assert (
            "several channels match 'general' (discord:G1 222 (#general); slack:T1 C2 (#general)): "
            "give its id, or qualify it as PLATFORM:WORKSPACE:CHANNEL (e.g. discord:G1:general)"
        ) in words(out.output)
    # An id two workspaces share cannot be told apart by giving it.
    out = invoke("search", "csv", "--channel", "C1")
    assert out.exit_code == 2
    assert (
        "several channels match 'C1' (discord:G1 C1 (#random); slack:T1 C1 (#help)): "
        "qualify it as PLATFORM:WORKSPACE:CHANNEL (e.g. discord:G1:C1)"
    ) in words(out.output)


@pytest.mark.parametrize(
    ("channel", "platform"),
    [
        ("discord:G1:general", "discord"),
        ("slack:T1:#general", "slack"),
        ("222", "discord"),
        ("<#C2|general>", "slack"),
        ("slack:T1:C1", "slack"),
        ("#help", "slack"),  # a name one workspace has
    ],
)
def test_a_channel_is_chosen_by_id_mention_or_its_qualified_name(
    two_generals: ScriptedLLM, channel: str, platform: str
) -> None:
    rows = search("csv reader guide wiki", "--channel", channel, "--mode", "bm25")
    assert rows and {r["unit_id"].split(":")[1] for r in rows} == {platform}


def test_an_unknown_qualified_channel_names_where_it_was_looked_for(two_generals: ScriptedLLM) -> None:
    out = invoke("search", "csv", "--channel", "slack:T9:general")
    assert out.exit_code == 2 and "unknown channel 'slack:T9:general' in slack:T9" in words(out.output)


def test_a_question_typed_in_a_latin1_terminal_is_read_as_latin1(llm: ScriptedLLM) -> None:
    # Python keeps argv's bytes that are not UTF-8 as lone surrogates ("café" in Latin-1: "caf\udce9").
    out = invoke("ask", "read a csv file, caf\udce9?", "--channel", "help", "--json")
    assert out.exit_code == 0, out.output
    assert asked(llm) == "read a csv file, café?" and json.loads(out.stdout)["question"] == "read a csv file, café?"
    out = invoke("ask", "read a csv \ud83d file?", "--json")  # half an emoji: a replacement character
    assert out.exit_code == 0, out.output
    assert asked(llm) == "read a csv \ufffd file?"
    assert search("read csv caf\udce9", "--channel", "help")
    out = invoke("search", "csv", "--channel", "h\udce9lp", "--as", "D\udce9na")
    assert out.exit_code == 2 and "unknown channel 'hélp'" in words(out.output)


def _gold(path: Path, *rows: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _evaluate(gold: Path) -> dict[str, Any]:
    out = invoke("eval", "retrieval", "--questions", str(gold), "--mode", "bm25", "--k", "1,10", "--json")
    assert out.exit_code == 0, out.output
    [row] = json.loads(out.stdout)
    return dict(row)


def test_a_gold_question_is_asked_as_its_asker(llm: ScriptedLLM, db_env: str, tmp_path: Path) -> None:
    asyncio.run(
        _add(
            db_env,
            [ChannelRow("slack", "T1", "C3", "random", "public")],
            [MessageRow("slack", "T1", "C3:5.0", "C3", "U1", 5.0, "pandas: read a csv file with read_csv")],
            # U1 a member; U8 of another organisation (Slack Connect), who is answered from the
            # channel asked in alone.
            [UserRow("slack", "T1", "U1", "Ana"), UserRow("slack", "T1", "U8", "Eve", external=True)],
        )
    )
    assert invoke("index", "all").exit_code == 0
    question = {"question_id": "1", "question": "pandas read a csv file", "channel": "C1", "answer_ids": ["C3:5.0"]}
    anyone = _evaluate(_gold(tmp_path / "anyone.jsonl", question))
    assert anyone["recall@10"] == 1.0
    # In a public channel a member is answered as anyone is, and an asker the store does not know
    # as before: the same figures.
    for asker in ("U1", "ana", "U404"):
        assert _evaluate(_gold(tmp_path / f"{asker}.jsonl", {**question, "asker": asker})) == anyone
    # The outsider is not: #random's answer is none of theirs.
    for asker in ("U8", "Eve"):
        assert _evaluate(_gold(tmp_path / f"{asker}.jsonl", {**question, "asker": asker}))["recall@10"] == 0.0
