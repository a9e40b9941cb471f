"""Sentiment reads words as people type them: the apostrophe phones and macOS put in "don’t", quoted
words, and words of other scripts (neutral: the lexicon is English, and no fragment of them counts)."""

from __future__ import annotations

import pytest

from brain.activity.sentiment import label, score_text


@pytest.mark.parametrize(
    "text",
    [
        "it isn’t working after the upgrade",  # U+2019, as iOS and macOS type it
        "I can’t get it working",
        "it wasn’t helpful at all",
        "it isnʼt working",  # U+02BC, the modifier-letter apostrophe some keyboards send
    ],
)
def test_a_typographic_apostrophe_keeps_its_negator(text: str) -> None:
    assert score_text(text) == score_text(text.replace("’", "'").replace("ʼ", "'")) < 0


def test_a_quoted_word_is_still_a_word() -> None:
    assert label("the build is 'broken' again") == "negative"


@pytest.mark.parametrize(
    "text", ["не работает, ошибка при сборке", "构建失败了，怎么办", "ça ne marche pas, très énervé", "gelöst, danke"]
)
def test_other_languages_are_neutral_not_misread(text: str) -> None:
    assert score_text(text) == 0.0
