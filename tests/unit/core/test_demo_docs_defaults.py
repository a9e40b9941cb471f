"""The bundled Getting Started doc (which the bot answers from) states the settings' real defaults."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings

DOC = Path(__file__).resolve().parents[3] / "bot" / "demo" / "docs" / "getting-started.md"
# `| `GUILDHALL_KEY__SUB` | `default` | meaning |`: rows whose default is a literal in backticks.
ROW = re.compile(r"^\| `GUILDHALL_([A-Z_]+)` \| `([^`]*)` \|", re.MULTILINE)


def _default(settings: Settings, env_key: str) -> Any:
    value: Any = settings
    for part in env_key.lower().split("__"):
        value = getattr(value, part)
    return value


def test_every_literal_default_in_the_table_is_the_settings_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("GUILDHALL_")]:
        monkeypatch.delenv(name)  # the defaults, not this machine's settings
    monkeypatch.chdir(tmp_path)  # no guildhall.toml of the checkout
    settings = Settings(data_dir=str(tmp_path))
    rows = ROW.findall(DOC.read_text(encoding="utf-8"))
    checked = 0
    for env_key, shown in rows:
        if "<" in shown:  # a template such as sqlite:///<data_dir>/...
            continue
        actual = _default(settings, env_key)
        if isinstance(actual, list):
            assert json.loads(shown) == actual, env_key
        elif env_key == "DATA_DIR":
            continue  # set by this test; the doc's `data` is the relative default
        else:
            assert shown == str(getattr(actual, "key", actual)), env_key
        checked += 1
    assert checked >= 6  # the table was found and read
