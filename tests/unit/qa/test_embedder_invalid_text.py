"""The real encoder takes text that is not valid Unicode: the Hugging Face tokenizer raised
``TypeError: TextEncodeInput must be ...`` on a lone surrogate, ending ``guildhall ask`` / ``search``
/ ``eval retrieval`` with a traceback (real MiniLM: slow)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.unit.qa.test_cli import env

__all__ = ["env"]  # the fixture: test_cli's store (a Slack #help thread on reading CSV files) and index


@pytest.mark.slow
def test_a_lone_surrogate_is_embedded_as_a_replacement_character() -> None:
    from brain.qa.embedder import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    # A Latin-1 terminal's "café" as Python reads it from argv, and half an emoji from a JSON file.
    vectors = embedder.embed(["caf\udce9", "how \ud83d install appium", "caf\ufffd", "how \ufffd install appium"])
    assert vectors.shape == (4, embedder.dim) and np.isfinite(vectors).all()
    assert np.allclose(vectors[0], vectors[2]) and np.allclose(vectors[1], vectors[3])


@pytest.mark.slow
def test_search_and_eval_retrieval_take_such_text(env: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["index", "all"]).exit_code == 0
    out = runner.invoke(app, ["search", "read a csv file, caf\udce9", "--mode", "dense", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)[0]["unit_id"] == "thread:slack:T1:C1:1.0#0"
    gold = env / "qa.jsonl"
    gold.write_text(
        '{"question_id": "9", "question": "how \\ud83d read a CSV file with pandas", "answer_ids": ["C1:2.0"], '
        '"channel": "C1", "asker": "U\\udce9"}\n'
    )
    out = runner.invoke(app, ["eval", "retrieval", "--questions", str(gold), "--mode", "dense", "--k", "1", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)[0]["recall@1"] == 1.0
