"""Redaction: every labelled secret masked, no false positive on the hard negatives."""

from __future__ import annotations

from benchmarks.redaction import evaluate
from bot.privacy.redact import Redactor, redact


def test_labelled_list_is_fully_detected_without_false_positives() -> None:
    score = evaluate()
    assert score.missed == []
    assert score.false_positives == []
    assert score.precision == 1.0 and score.recall == 1.0


def test_redacted_text_keeps_its_meaning_and_loses_the_secret() -> None:
    text = "ping me at ana@example.com, token xoxb-12345678-1234567890-abcdefghijklmnopqrstuvwx fails"
    out = redact(text)
    assert "ana@example.com" not in out and "xoxb-1234" not in out
    assert "[redacted:email]" in out and "[redacted:slack-token]" in out and out.endswith("fails")


def test_custom_patterns_apply() -> None:
    r = Redactor([r"\bEMP-\d{6}\b"])
    assert r.redact("employee EMP-123456 asked") == "employee [redacted:custom] asked"


def test_odd_and_huge_inputs_do_not_break_or_hang() -> None:
    huge = ("a" * 39_000) + " x@y.io " + ("\u202e\u0301👩‍💻" * 200)
    out = redact(huge)
    assert "[redacted:email]" in out and "x@y.io" not in out
    assert redact("") == ""
