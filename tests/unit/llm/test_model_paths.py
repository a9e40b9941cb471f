"""Local model paths: ``check-config`` names a missing one, and the LLM's load error names the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from brain.qa.llm.transformers_backend import ModelNotFoundError, resolve_model


def check_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> tuple[int, dict[str, object]]:
    monkeypatch.chdir(tmp_path)
    for key, value in env.items():
        monkeypatch.setenv(f"GUILDHALL_{key}", value)
    result = CliRunner().invoke(app, ["check-config", "--json"])
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({"QA__RERANK_MODEL": "{missing}"}, "qa.rerank_model: no model folder at {missing}"),
        ({"QA__RERANK_MODEL": "./models/none"}, "qa.rerank_model: no model folder at models/none"),
        ({"EMBEDDINGS__MODEL": "{missing}"}, "embeddings.model: no model folder at {missing}"),
        ({"LLM__MODEL": "{missing}"}, "llm.model: model folder not found: {missing}"),
        ({"LLM__MODEL": "{missing}.gguf"}, "llm.model: model file not found: {missing}.gguf"),
        ({"LLM__MODEL": "{folder}", "LLM__GGUF_FILE": "m.Q4.gguf"}, "llm.gguf_file: m.Q4.gguf is not in {folder}"),
        ({"LLM__MODEL": "{folder}/config.json"}, "is a file but not a .gguf model"),
    ],
)
def test_check_config_names_a_missing_local_model_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], error: str
) -> None:
    # check-config said OK; then `index docs` and `ask` ended in a traceback, and in the bot every
    # question got "Something went wrong" and every new message failed to index.
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    names = {"missing": str(tmp_path / "nonexistent"), "folder": str(folder)}
    code, report = check_config(tmp_path, monkeypatch, **{k: v.format(**names) for k, v in env.items()})
    assert code == 2 and report["ok"] is False
    [line] = report["errors"]  # type: ignore[misc]
    assert error.format(**names) in line


@pytest.mark.parametrize(
    "env",
    [
        {},  # the bundled models
        {"QA__RERANK_MODEL": "{folder}", "EMBEDDINGS__MODEL": "{folder}", "LLM__MODEL": "{folder}"},
        {"LLM__MODEL": "{folder}/m.gguf"},
        {"LLM__MODEL": "{folder}", "LLM__GGUF_FILE": "m.gguf"},
        {"LLM__MODEL": "/nonexistent", "LLM__BACKEND": "openai"},  # the server's model: not a path here
        {"QA__RERANK_MODEL": "cross-encoder/ms-marco-MiniLM-L6-v2"},  # may be in the Hugging Face cache
    ],
)
def test_check_config_accepts_models_that_are_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "m.gguf").write_bytes(b"GGUF")
    code, report = check_config(tmp_path, monkeypatch, **{k: v.format(folder=folder) for k, v in env.items()})
    assert (code, report["ok"]) == (0, True)


def test_a_missing_gguf_file_is_named_as_a_file(tmp_path: Path) -> None:
    missing = tmp_path / "SmolLM2.Q4_1.gguf"
    with pytest.raises(ModelNotFoundError, match=r"^model file not found: .*SmolLM2\.Q4_1\.gguf"):
        resolve_model(str(missing))
    with pytest.raises(ModelNotFoundError, match=r"model file not found: .*model/other\.gguf .*llm\.gguf_file"):
        (tmp_path / "model").mkdir()
        resolve_model(str(tmp_path / "model"), "other.gguf")
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(ModelNotFoundError, match=r"is a file but not a \.gguf model"):
        resolve_model(str(tmp_path / "notes.txt"))
    missing.write_bytes(b"GGUF")
    assert resolve_model(str(missing)) == (tmp_path, missing.name)
    with pytest.raises(ModelNotFoundError, match=r"^model directory not found: .*no-such-model"):
        resolve_model(str(tmp_path / "no-such-model"))
