"""Lexical search tokens of scripts written with combining marks are whole words: ``\\w`` alone cut
Hindi "सर्वर" into "सर" and "वर", and a decomposed "für" into "fu" and "r"."""

from __future__ import annotations

import unicodedata

from brain.qa.tokenize import tokenize


def test_hindi_tamil_and_bengali_words_are_whole_tokens() -> None:
    assert tokenize("सर्वर डाउन है डेटाबेस कनेक्शन टाइमआउट") == [
        "सर्वर",
        "डाउन",
        "है",
        "डेटाबेस",
        "कनेक्शन",
        "टाइमआउट",
    ]
    assert tokenize("தரவுத்தளம் இணைப்பு") == ["தரவுத்தளம்", "இணைப்பு"]
    assert tokenize("সার্ভার বন্ধ") == ["সার্ভার", "বন্ধ"]


def test_decomposed_text_gives_the_tokens_of_composed_text() -> None:
    composed = "Fehler für Größe bei asyncio.gather"
    assert tokenize(unicodedata.normalize("NFD", composed)) == tokenize(composed)
    assert "für" in tokenize(unicodedata.normalize("NFD", composed))
