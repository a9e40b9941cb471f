"""Erased text leaves the SQLite files, not just the tables: ``/forget-me`` and the retention purge
overwrite it (``secure_delete``) and truncate the write-ahead log, so a copy of the data directory
taken afterwards does not hold it (it did: in free page space and in old WAL frames)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.config import Settings
from bot.testing import make_message
from bot.testing.builders import BASE_TIME, command
from tests.conftest import AppFactory

pytestmark = pytest.mark.skipif(
    os.environ.get("GUILDHALL_TEST_STORE") == "postgresql", reason="the SQLite files are what is checked"
)

SECRET = "zorblax-hunter2-secret"


def _files_hold(folder: Path, needle: str) -> list[str]:
    return [p.name for p in folder.glob("guildhall.db*") if needle.encode() in p.read_bytes()]


async def test_forget_me_leaves_no_copy_of_the_text_in_the_database_files(
    make_app: AppFactory, settings: Settings, tmp_path: Path
) -> None:
    on_file = settings.model_copy(
        update={"store": settings.store.model_copy(update={"url": f"sqlite:///{tmp_path}/guildhall.db"})}
    )
    app, adapter = await make_app(settings_override=on_file)
    for i in range(30):  # enough rows that the page is not simply rewritten whole
        await adapter.inject(make_message(f"ordinary chatter number {i} " * 3, author="bob", minutes=i))
    await adapter.inject(make_message(f"my password is {SECRET}", author="dan", minutes=31))
    await app.bus.drain()
    assert _files_hold(tmp_path, SECRET)  # written: in the WAL (and the file after a checkpoint)
    await adapter.inject(command("forget-me", "confirm", author="dan"))
    await app.bus.drain()
    assert _files_hold(tmp_path, SECRET) == []
    assert len(await app.store.channel_messages("console", "local", "general")) >= 30  # the rest stays


async def test_the_retention_purge_leaves_no_copy_in_the_database_files(
    make_app: AppFactory, settings: Settings, tmp_path: Path
) -> None:
    on_file = settings.model_copy(
        update={
            "store": settings.store.model_copy(update={"url": f"sqlite:///{tmp_path}/guildhall.db"}),
            "privacy": settings.privacy.model_copy(update={"retention_days": 1}),
        }
    )
    clock = FakeClock(BASE_TIME)
    app, adapter = await make_app(settings_override=on_file, clock=clock)
    await adapter.inject(make_message(f"an old note: {SECRET}", author="dan"))
    for i in range(30):
        await adapter.inject(make_message(f"newer chatter number {i} " * 3, author="bob", minutes=3 * 24 * 60 + i))
    await app.bus.drain()
    assert _files_hold(tmp_path, SECRET)
    await clock.advance(timedelta(days=3))  # the hourly retention job runs on the way
    await app.brain("core").purge_expired()  # type: ignore[attr-defined]
    remaining = await app.store.channel_messages("console", "local", "general")
    assert len(remaining) == 30 and all(SECRET not in m.text for m in remaining)
    assert _files_hold(tmp_path, SECRET) == []
