"""Retrieval evaluation on gold questions: recall@k and MRR (``guildhall eval retrieval``, benchmarks).

A question is a hit at k when one of the top-k units contains any of its ``answer_ids``. Each
question is asked as its asker in its channel, so access control applies as in production.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.message_ids import qualified
from bot.slack_text import unescape
from brain.qa.access import AccessScope
from brain.qa.retriever import Mode, Retriever


@dataclass(frozen=True, slots=True)
class GoldQuestion:
    """One line of a gold ``qa.jsonl``."""

    question: str
    asker: str
    channel: str
    answer_ids: frozenset[str]


@dataclass
class RetrievalReport:
    """Recall@k and MRR of one mode."""

    mode: str
    questions: int
    recall: dict[int, float] = field(default_factory=dict)
    mrr: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "mode": self.mode,
            "questions": self.questions,
            "mrr": round(self.mrr, 4),
            **{f"recall@{k}": round(v, 4) for k, v in sorted(self.recall.items())},
        }


def read_questions(path: Path) -> list[GoldQuestion]:
    """Parse a gold ``qa.jsonl`` (Slack ``question_ts`` or Discord ``question_id`` flavour).

    Raises:
        ValueError: naming the line of a malformed record.
    """
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: not a gold question ({exc})") from exc
        if not isinstance(row, dict):
            # Valid JSON but a list, a string or a number: no fields to read.
            raise ValueError(f"{path}:{n}: not a gold question (a JSON object is expected, not {type(row).__name__})")
        try:
            channel = str(row.get("channel", ""))
            answers = [str(a) for a in row["answer_ids"]]
            question = str(row["question"])
            if "question_ts" in row:
                # Slack's text, as a member's question reaches the bot: the adapter undoes Slack's
                # &lt; &gt; &amp; (and the importer does for the history searched).
                question = unescape(question)
                if channel:
                    # Slack gold ids are bare ts; Guildhall names a Slack message "<channel>:<ts>".
                    answers = [qualified("slack", channel, a) for a in answers]
            out.append(
                GoldQuestion(
                    question=question,
                    asker=str(row.get("asker", "")),
                    channel=channel,
                    answer_ids=frozenset(answers),
                )
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: not a gold question ({exc})") from exc
    return out


async def evaluate(
    retriever: Retriever,
    questions: Sequence[GoldQuestion],
    scope_for: Callable[[GoldQuestion], Awaitable[AccessScope]],
    *,
    ks: Sequence[int] = (1, 5, 10),
    mode: Mode = "hybrid",
) -> RetrievalReport:
    """Run every question through ``retriever`` and score it."""
    depth = max(ks)
    hits = dict.fromkeys(ks, 0)
    rr = 0.0
    for q in questions:
        scope = await scope_for(q)
        ranked = await retriever.search(q.question, scope, k=depth, mode=mode)
        for rank, item in enumerate(ranked, start=1):
            if q.answer_ids.intersection(item.unit.message_ids):
                rr += 1.0 / rank
                for k in ks:
                    if rank <= k:
                        hits[k] += 1
                break
    n = max(len(questions), 1)
    return RetrievalReport(mode, len(questions), {k: hits[k] / n for k in ks}, rr / n)
