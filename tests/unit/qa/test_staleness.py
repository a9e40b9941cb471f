"""Staleness notes: which later messages count as correcting a cited thread."""

from __future__ import annotations

from typing import Any

import pytest

from bot.ml import Unit
from bot.store import MessageRow
from brain.qa.staleness import corrected_later, is_correction


@pytest.mark.parametrize(
    ("text", "corrects"),
    [
        ("actually that flag was removed, upgrade pip instead", True),
        ("Actually, no: pin it in pyproject", True),
        ("that no longer works since 3.12", True),
        ("deprecated in 2.0, use the new API", True),
        ("update: use uv instead", True),
        ("Actually it's simple: run `npm run dev` first", False),  # opens a fix
        ("thanks, the error no longer shows", False),  # confirms one
        ("`actually` is a keyword in my DSL", False),  # code is not prose
    ],
)
def test_correction_phrases(text: str, corrects: bool) -> None:
    assert is_correction(text) is corrects


async def _thread(make_app: Any, *replies: tuple[str, str]) -> tuple[Any, Unit]:
    app, _ = await make_app(brains=[])
    rows = [MessageRow("console", "local", "r", "general", "alice", 100.0, "dev server refuses connections?", "r")]
    rows += [
        MessageRow("console", "local", f"m{i}", "general", who, 100.0 + 60 * (i + 1), text, "r")
        for i, (who, text) in enumerate(replies)
    ]
    await app.store.upsert_messages(rows)
    unit = Unit(
        "u", "console", "local", "general", "...", tuple(r.message_id for r in rows), thread_id="r", ts_start=100.0
    )
    return app, unit


async def test_the_askers_confirmation_and_an_actually_fix_are_no_correction(make_app: Any) -> None:
    app, unit = await _thread(
        make_app, ("bob", "Actually it's simple: start it with npm run dev"), ("alice", "the error no longer shows")
    )
    assert not await corrected_later(app.store, unit)


async def test_another_members_later_correction_is_one(make_app: Any) -> None:
    app, unit = await _thread(
        make_app, ("bob", "pin setuptools below 58"), ("carol", "actually that's outdated, upgrade pip instead")
    )
    assert await corrected_later(app.store, unit)
