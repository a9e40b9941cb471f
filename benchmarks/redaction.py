"""Precision and recall of the redaction detector on a labelled list (tests/data/redaction_cases.json).

A labelled secret counts as found when a detected span covers it; a detected span is a true positive
when it overlaps a labelled secret. Also times redaction of long hostile pastes (the gate redacts
inline, so a slow message stalls every other event): each paste at two sizes, to show the time grows
with the length, not its square. Run: ``python -m benchmarks.redaction``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.report import markdown_table, write_section
from bot.privacy.redact import Redactor

CASES = Path(__file__).resolve().parent.parent / "tests" / "data" / "redaction_cases.json"


@dataclass
class RedactionScore:
    """Span-level counts and the misses, for the report."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    false_positives: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    by_kind: dict[str, list[int]] = field(default_factory=dict)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        found = sum(v[0] for v in self.by_kind.values())
        total = sum(v[1] for v in self.by_kind.values())
        return found / total if total else 1.0


def evaluate(redactor: Redactor | None = None, cases_path: Path = CASES) -> RedactionScore:
    """Score ``redactor`` on the labelled cases."""
    redactor = redactor or Redactor()
    score = RedactionScore()
    for case in json.loads(cases_path.read_text(encoding="utf-8")):
        text: str = case["text"]
        spans = redactor.find(text)
        labelled = []
        for kind, secret in case["secrets"]:
            start = text.index(secret)
            labelled.append((start, start + len(secret), kind))
        for s, e, kind in labelled:
            hit = any(ds <= s and de >= e for ds, de, _ in spans)
            counts = score.by_kind.setdefault(kind, [0, 0])
            counts[1] += 1
            if hit:
                counts[0] += 1
            else:
                score.fn += 1
                score.missed.append(f"{kind}: {text[:60]!r}")
        for ds, de, kind in spans:
            if any(ds < e and s < de for s, e, _ in labelled):
                score.tp += 1
            else:
                score.fp += 1
                score.false_positives.append(f"{kind}: {text[ds:de]!r}")
    return score


# Pastes that were quadratic once (each a repeated unit): a mailing list, phone numbers and tokens,
# JWT look-alikes without and with a dot, mention starts.
HOSTILE = (
    ("e-mail addresses", "a@b.co "),
    ("phone numbers and GitHub tokens", "+1 555 123 4567 ghp_" + "a" * 36 + " "),
    ("JWT look-alikes", "eyJa-"),
    ("JWT look-alikes with a dot", "eyJa-eyJa.eyJ-"),
    ("mention starts", "<@"),
)


def hostile_timings(sizes: tuple[int, int] = (50_000, 200_000)) -> list[list[object]]:
    """Seconds to redact each hostile paste at two sizes (characters), and their ratio."""
    redactor = Redactor()
    rows: list[list[object]] = []
    for name, unit in HOSTILE:
        seconds = []
        for size in sizes:
            text = unit * (size // len(unit))
            started = time.perf_counter()
            redactor.redact(text)
            seconds.append(time.perf_counter() - started)
        rows.append([name, f"{seconds[0]:.3f}", f"{seconds[1]:.3f}", f"{seconds[1] / max(seconds[0], 1e-6):.1f}"])
    return rows


def main() -> None:
    score = evaluate()
    timings = hostile_timings()
    rows = [[kind, found, total, found / total] for kind, (found, total) in sorted(score.by_kind.items())]
    body = (
        f"Labelled list: `tests/data/redaction_cases.json` ({sum(v[1] for v in score.by_kind.values())} secrets in "
        f"realistic chat lines plus hard negatives: versions, hashes, UUIDs, IPs, dates, decorators, ssh targets).\n\n"
        f"**Precision {score.precision:.3f}, recall {score.recall:.3f}** (span level; {score.fp} false positives, "
        f"{score.fn} misses).\n\n" + markdown_table(["kind", "found", "labelled", "recall"], rows)
    )
    if score.false_positives or score.missed:
        body += "\n\nFalse positives: " + "; ".join(score.false_positives) + "\n\nMissed: " + "; ".join(score.missed)
    body += (
        "\n\nLong hostile pastes (seconds to redact; a time that grows with the length gives a ratio near 4, "
        "one that grows with its square near 16):\n\n"
        + markdown_table(["paste", "50,000 chars s", "200,000 chars s", "ratio"], timings)
    )
    body += "\n\nReproduce: `python -m benchmarks.redaction`."
    write_section("redaction", "Redaction detector (privacy)", body)
    print(f"precision={score.precision:.3f} recall={score.recall:.3f} fp={score.false_positives} missed={score.missed}")
    for row in timings:
        print(row)


if __name__ == "__main__":
    main()
