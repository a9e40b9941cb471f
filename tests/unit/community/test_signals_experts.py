"""Pure parts of the community brain: signals, expert ranking, staleness."""

from __future__ import annotations

import pytest

from brain.community.experts import ThreadCredit, most_active, rank_experts
from brain.community.signals import is_question, is_resolved, is_solved_emoji, is_thanks
from brain.qa.staleness import is_correction, stale_note


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("how do I pin numpy in poetry?", True),
        ("Anyone know why asyncio.gather swallows errors", True),
        ("`x?` is the walrus? no wait", True),
        ("deployed the new version today", False),
        ("ok", False),
        ("```what?```", False),
        # a question word opening a statement: the help channel does not wait on it for an answer
        ("Have a great weekend everyone!", False),
        ("Did a talk on asyncio today.", False),
        ("Does anyone use poetry", True),
        ("is there a way to `print(x?)` lazily", True),
        # Other scripts' question marks: a Chinese or Arabic question never waited for an answer,
        # nor counted as unanswered.
        ("怎么安装这个包？", True),
        ("هل الخادم يعمل الآن؟", True),
        ("数据库", False),
    ],
)
def test_is_question(text: str, expected: bool) -> None:
    assert is_question(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("thanks, that worked!", True),
        ("Thank you so much", True),
        ("solved, cheers", True),
        ("thanks but it still doesn't work", False),
        ("no, that didn't fix it", False),
        ("here is the traceback", False),
        ("here is my pyproject. Thanks in advance!", False),  # still asking
        ("nevermind, got it working, thanks", True),
    ],
)
def test_is_thanks(text: str, expected: bool) -> None:
    assert is_thanks(text) is expected


def test_corrections_and_solved_emoji() -> None:
    assert is_correction("actually that flag was removed in 3.12")
    assert not is_correction("try the --upgrade flag")
    assert is_solved_emoji(":white_check_mark:") and is_solved_emoji("✅") and not is_solved_emoji("+1")


def test_rank_experts_weights_accepted_answers_and_excludes() -> None:
    credits = {
        "t1": ThreadCredit("t1", "asker1", "bob", frozenset({"carol"}), frozenset({"bob", "carol", "dave"})),
        "t2": ThreadCredit("t2", "asker2", "carol", frozenset(), frozenset({"carol", "eve"})),
        "t3": ThreadCredit("t3", "bob", None, frozenset(), frozenset({"zed"})),
    }
    ranked = rank_experts([("t1", 0.9), ("t2", 0.5), ("t3", 0.1), ("missing", 1.0)], credits, k=5)
    names = [u for u, _ in ranked]
    assert names[0] == "bob"  # accepted on the closest thread
    assert set(names) == {"bob", "carol", "dave", "eve", "zed"}
    assert "carol" not in [u for u, _ in rank_experts([("t1", 0.9)], credits, exclude={"carol"})]
    assert rank_experts([], credits) == []
    assert most_active({"a": 5, "b": 9, "c": 1}, exclude={"b"}, k=2) == ["a", "c"]


def test_stale_note() -> None:
    year = 365 * 86400
    assert stale_note(1_546_300_800.0, 1_546_300_800.0 + 3 * year, max_age_days=730) == "from 2019 — may be outdated"
    assert stale_note(1_546_300_800.0, 1_546_300_800.0 + 10, max_age_days=730) == ""
    assert "corrected" in stale_note(1_546_300_800.0, 1_546_300_800.0 + 10, max_age_days=730, corrected=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("got it working, thanks!", True),
        ("never mind, figured it out", True),
        ("that fixed it, cheers", True),
        ("Any ideas? Thanks!", False),
        ("thanks, still the same error", False),
        ("thanks for looking, still stuck though", False),
        ("it is not fixed yet", False),
        ("thanks!", False),  # a thank-you is not a resolution
    ],
)
def test_is_resolved(text: str, expected: bool) -> None:
    assert is_resolved(text) is expected
