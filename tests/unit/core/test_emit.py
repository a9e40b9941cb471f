"""``bot.cli_support.emit``: a command's outcome prints whatever text it holds."""

from __future__ import annotations

import io
import json
import sys

import pytest

from bot.cli_support import emit

DATA = {"warnings": ["message '\ud800' skipped", "café ☕"], "file": "ok\udcff.json"}


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_lone_surrogates_print_as_replacement_characters(capsys: pytest.CaptureFixture[str], as_json: bool) -> None:
    """Half an emoji (a platform id, a file name that is not UTF-8) made emit raise
    UnicodeEncodeError after the command's work was done: the outcome was lost."""
    emit(DATA, as_json, lambda: "\n".join(DATA["warnings"]))
    out = capsys.readouterr().out
    if as_json:
        assert json.loads(out) == {"warnings": ["message '\ufffd' skipped", "café ☕"], "file": "ok\ufffd.json"}
    else:
        assert out == "message '\ufffd' skipped\ncafé ☕\n"


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_an_output_whose_encoding_lacks_a_character_gets_escapes(
    monkeypatch: pytest.MonkeyPatch, as_json: bool
) -> None:
    """PYTHONIOENCODING=latin-1 has no ☕ (click itself upgrades an ASCII stdout to UTF-8)."""
    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="latin-1"))
    emit(DATA, as_json, "café ☕ \ud800")
    sys.stdout.flush()
    out = raw.getvalue().decode("ascii")
    if as_json:
        assert json.loads(out)["warnings"] == DATA["warnings"]  # \u escapes: still the same JSON
    else:
        assert out == "caf\\xe9 \\u2615 \\ufffd\n"
