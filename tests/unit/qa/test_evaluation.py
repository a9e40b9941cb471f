"""Gold-question parsing and scoring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.ml import ScoredUnit, Unit
from brain.qa.access import AccessScope
from brain.qa.evaluation import GoldQuestion, evaluate, read_questions


class FixedRetriever:
    """Returns a fixed ranking whatever the query (the scoring is what is under test)."""

    def __init__(self, ranking: list[tuple[str, ...]]) -> None:
        self.ranking = ranking

    async def search(self, query: str, scope: AccessScope, *, k: int = 10, mode: str = "hybrid") -> list[ScoredUnit]:
        return [
            ScoredUnit(Unit(f"u{i}", "s", "w", "c", "t", message_ids=ids), 1.0) for i, ids in enumerate(self.ranking)
        ][:k]


async def test_recall_and_mrr() -> None:
    questions = [
        GoldQuestion("q1", "a", "c", frozenset({"m2"})),  # rank 2
        GoldQuestion("q2", "a", "c", frozenset({"m9"})),  # miss
    ]

    async def scope(q: GoldQuestion) -> AccessScope:
        return AccessScope("s", "w")

    report = await evaluate(FixedRetriever([("m1",), ("m2", "m3")]), questions, scope, ks=(1, 5))  # type: ignore[arg-type]
    assert report.recall == {1: 0.0, 5: 0.5}
    assert report.mrr == 0.25
    assert report.as_dict()["recall@5"] == 0.5


def test_malformed_gold_lines_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_text('{"question": "ok?", "answer_ids": ["1"]}\n\n{"question": "no answers"}\n')
    with pytest.raises(ValueError, match=r"qa.jsonl:3"):
        read_questions(path)


@pytest.mark.realdata
def test_real_gold_files_parse(shared_data: Path) -> None:
    for gold in sorted(shared_data.glob("*.gold/qa.jsonl")):
        questions = read_questions(gold)
        assert questions and all(q.question and q.answer_ids and q.channel for q in questions), gold


def test_slack_gold_ids_name_the_questions_channel_and_discord_ids_stay(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    slack = {"question_ts": "1.1", "question": "q?", "asker": "U1", "channel": "C7", "answer_ids": ["2.1", "3.1"]}
    discord = {"question_id": "10", "question": "q?", "asker": "u", "channel": "55", "answer_ids": ["11"]}
    path.write_text(json.dumps(slack) + "\n" + json.dumps(discord) + "\n")
    first, second = read_questions(path)
    assert first.answer_ids == {"C7:2.1", "C7:3.1"}  # what the importer stores (bot.message_ids)
    assert second.answer_ids == {"11"}


def test_a_slack_question_is_asked_as_the_member_typed_it(tmp_path: Path) -> None:
    # Slack's export (like its events) writes < > & as entities; the adapter and the importer undo
    # them, so the question must be asked as the member typed it, and a Discord one stays as it is.
    path = tmp_path / "qa.jsonl"
    slack = {"question_ts": "1.1", "question": "why is `a &lt; b &amp;&amp; c`?", "channel": "C7", "answer_ids": []}
    discord = {"question_id": "10", "question": "is &lt; literal here?", "channel": "55", "answer_ids": []}
    path.write_text(json.dumps(slack) + "\n" + json.dumps(discord) + "\n")
    first, second = read_questions(path)
    assert first.question == "why is `a < b && c`?"
    assert second.question == "is &lt; literal here?"
