"""A gold-question file with a line that is JSON but not an object is refused with its line named,
not a traceback (``[1, 2]`` raised ``AttributeError: 'list' object has no attribute 'get'``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from brain.qa.evaluation import read_questions

GOOD = json.dumps({"question": "ok?", "answer_ids": ["1"]})


@pytest.mark.parametrize(
    ("line", "kind"), [("[1, 2]", "list"), ('"a question"', "str"), ("5", "int"), ("null", "NoneType")]
)
def test_a_line_that_is_not_an_object_names_the_line(tmp_path: Path, line: str, kind: str) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_text(f"{GOOD}\n\n{line}\n")
    with pytest.raises(ValueError, match=rf"qa.jsonl:3: not a gold question \(a JSON object is expected, not {kind}\)"):
        read_questions(path)


def test_eval_retrieval_refuses_it_as_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The file is read before any setting, store or model is touched.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "q.jsonl").write_text("[1,2]\n")
    out = CliRunner().invoke(app, ["eval", "retrieval", "--questions", "q.jsonl"])
    assert out.exit_code == 2, out.output
    assert not isinstance(out.exception, AttributeError)
    # The message sits in a box that may wrap it: compare the words.
    words = [w for w in out.output.split() if w != "│"]
    assert "q.jsonl:1: not a gold question (a JSON object is expected, not list)" in " ".join(words)
