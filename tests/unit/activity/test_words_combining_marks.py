"""Words of scripts written with combining marks (Devanagari, Tamil, Bengali vowel signs and
viramas; the accents of decomposed text) are whole words: ``\\w`` alone cut them at every mark."""

from __future__ import annotations

import unicodedata

from brain.activity.scoring import word_count
from brain.activity.trends import tokenize

HINDI = "सर्वर डाउन है डेटाबेस कनेक्शन टाइमआउट"  # "server down, database connection timeout"


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def test_trend_terms_run_on_through_vowel_signs_and_viramas() -> None:
    terms = tokenize(HINDI)
    assert terms[:6] == ["सर्वर", "डाउन", "है", "डेटाबेस", "कनेक्शन", "टाइमआउट"]
    assert "डेटाबेस कनेक्शन" in terms  # a bigram of whole words, not of fragments ("सर", "वर")
    assert tokenize("தரவுத்தளம் இணைப்பு தோல்வி")[:3] == ["தரவுத்தளம்", "இணைப்பு", "தோல்வி"]  # Tamil
    assert tokenize("সার্ভার বন্ধ")[:2] == ["সার্ভার", "বন্ধ"]  # Bengali


def test_decomposed_text_gives_the_terms_of_composed_text() -> None:
    # macOS and some input methods send NFD: "für" as "fu" + U+0308 + "r" was cut to "fu".
    assert tokenize(nfd("Fehler für Größe")) == tokenize("Fehler für Größe")
    assert "für" in tokenize(nfd("Fehler für Größe"))


def test_word_count_counts_words_with_combining_marks_once() -> None:
    assert word_count(HINDI) == 6  # was 14: every vowel sign and virama cut a word
    assert word_count(nfd("für Größe")) == 2
    # A variation selector picks an emoji's look; it joins no word ("1️⃣" is no "1️" word).
    assert word_count("1️⃣ step ❤️") == 2
