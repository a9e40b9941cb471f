"""A buttons file whose entries have the wrong types is ignored, as an unreadable one is: the console
starts with an empty board instead of ``guildhall run`` stopping with a traceback."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from adapters.console.buttons import FILE_NAME, FORMAT
from bot.config import Settings
from tests.unit.console.test_adapter import make_console

ENTRY = {
    "number": 2,
    "action_id": "toy.yes",
    "label": "Yes",
    "value": "y",
    "channel_id": "general",
    "message_id": "m1",
    "ts": 1.0,
}


@pytest.mark.parametrize(
    "change",
    [{"number": "2"}, {"number": None}, {"number": True}, {"ts": "yesterday"}],
    ids=["number-as-text", "number-null", "number-bool", "ts-as-text"],
)
async def test_a_buttons_file_with_odd_entries_starts_an_empty_board(make_app, settings: Settings, change) -> None:
    data_dir = Path(settings.data_dir)  # the console reads its buttons file there at start
    (data_dir / FILE_NAME).write_text(
        json.dumps({"format": FORMAT, "next": 3, "buttons": [{**ENTRY, **change}]}), encoding="utf-8"
    )
    app, console, _ = await make_console(make_app)
    out = io.StringIO()
    await console.run_repl(io.StringIO("/buttons\n/vote\n/buttons\n"), out)
    await app.bus.drain()
    text = out.getvalue()
    assert "No buttons to press yet." in text
    assert "[1] Yes" in text and "[2] No" in text  # numbering starts afresh, the file is rewritten
    saved = json.loads((data_dir / FILE_NAME).read_text(encoding="utf-8"))
    assert [b["label"] for b in saved["buttons"]] == ["Yes", "No"]


async def test_a_well_formed_buttons_file_is_still_read(make_app, settings: Settings) -> None:
    (Path(settings.data_dir) / FILE_NAME).write_text(
        json.dumps({"format": FORMAT, "next": 3, "buttons": [ENTRY]}), encoding="utf-8"
    )
    _app, console, _ = await make_console(make_app)
    out = io.StringIO()
    await console.run_repl(io.StringIO("/buttons\n"), out)
    assert "[2] Yes — #general" in out.getvalue()
