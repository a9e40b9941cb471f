"""Dedupe marks (``processed_events``) are purged daily past the dedupe horizon, in batches, on
SQLite and PostgreSQL; younger marks stay. The consumers' side (an event older than the horizon is
not acted on, so a replay after the purge acts once) is tested with each brain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from bot.clock import FakeClock, to_epoch
from bot.config import Settings
from bot.core_brain import dedupe_horizon
from bot.store import Store
from tests.store_backends import fresh_store

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.services)]
DAY = 86400.0


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    async with fresh_store(request.param) as s:
        yield s


async def _mark(store: Store, consumer: str, event_id: str, ts: float) -> None:
    """A mark made at ``ts`` (mark_processed stamps the wall clock)."""
    await store.db.execute(
        "INSERT INTO processed_events (consumer, event_id, ts) VALUES (?, ?, ?)", (consumer, event_id, ts)
    )


async def _marks(store: Store) -> list[str]:
    return sorted(str(r[0]) for r in await store.db.fetchall("SELECT event_id FROM processed_events"))


async def test_purge_processed_deletes_old_marks_batch_by_batch_and_keeps_younger_ones(store: Store) -> None:
    for n in range(7):
        await _mark(store, "qa.feedback", f"old-{n}", 1000.0 + n)
    await _mark(store, "recommend.reacted", "young-0", 5000.0)
    await _mark(store, "community.human_first", "young-1", 2000.0)  # exactly at the cutoff: kept
    assert await store.purge_processed(2000.0, batch=3) == 7  # three statements: 3 + 3 + 1
    assert await _marks(store) == ["young-0", "young-1"]
    assert await store.purge_processed(2000.0, batch=3) == 0
    # A purged event can be claimed again: whoever acts on it must check the horizon first.
    assert await store.mark_processed("qa.feedback", "old-0")


async def test_purge_processed_empties_a_full_last_batch(store: Store) -> None:
    for n in range(4):
        await _mark(store, "community.similar", f"t{n}", 10.0)
    assert await store.purge_processed(100.0, batch=2) == 4
    assert await _marks(store) == []


async def test_the_purge_finds_old_marks_by_an_index_on_their_time(store: Store) -> None:
    applied = await store.db.fetchall(
        "SELECT name FROM schema_migrations WHERE name = 'core-0012-processed-events-ts-index'"
    )
    assert applied == [("core-0012-processed-events-ts-index",)]
    if store.db.dialect == "postgresql":
        row = await store.db.fetchone(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(?)", ("processed_events_ts",)
        )
    else:
        row = await store.db.fetchone(
            "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", ("processed_events_ts",)
        )
    assert row is not None and bool(row[0])


NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


async def test_the_daily_job_purges_marks_a_day_past_the_horizon(make_app: Any) -> None:
    app, _ = await make_app(clock=FakeClock(NOW))
    store, now = app.store, to_epoch(NOW)
    assert dedupe_horizon(app.ctx) == now - 90 * DAY  # the default: store.dedupe_retention_days = 90
    await _mark(store, "qa.feedback", "past-margin", now - 91 * DAY - 60)
    await _mark(store, "community.human_first", "in-margin", now - 90.5 * DAY)  # past the horizon, not the margin
    await _mark(store, "recommend.reacted", "young", now - 10 * DAY)
    await _mark(store, "community.similar", "just-made", now)
    assert await app.brain("core").purge_dedupe_marks() == 1
    assert await _marks(store) == ["in-margin", "just-made", "young"]


async def test_the_retention_of_dedupe_marks_is_a_setting(make_app: Any, settings: Settings) -> None:
    settings = settings.model_copy(update={"store": settings.store.model_copy(update={"dedupe_retention_days": 30})})
    app, _ = await make_app(clock=FakeClock(NOW), settings_override=settings)
    now = to_epoch(NOW)
    assert dedupe_horizon(app.ctx) == now - 30 * DAY
    await _mark(app.store, "qa.feedback", "old", now - 32 * DAY)
    await _mark(app.store, "qa.feedback", "young", now - 29 * DAY)
    assert await app.brain("core").purge_dedupe_marks() == 1
    assert await _marks(app.store) == ["young"]


def test_the_retention_outlasts_every_help_channel_wait() -> None:
    assert Settings(store={"dedupe_retention_days": 14}).store.dedupe_retention_days == 14
    with pytest.raises(ValidationError, match="dedupe_retention_days"):
        Settings(store={"dedupe_retention_days": 7})


async def test_the_purge_is_scheduled_daily_in_one_worker_and_caught_up_on_start(make_app: Any) -> None:
    app, _ = await make_app(clock=FakeClock(NOW))
    assert "core.dedupe_marks" in app.scheduler.job_names
    [(_, schedule, _)] = [s for s in app.brain("core").schedules(app.settings) if s[0] == "core.dedupe_marks"]
    assert schedule.interval == timedelta(days=1)
    assert schedule.one_worker and schedule.catch_up is not None


async def test_the_scheduled_run_purges(make_app: Any) -> None:
    clock = FakeClock(NOW)
    app, _ = await make_app(clock=clock)
    await _mark(app.store, "qa.feedback", "old", to_epoch(NOW) - 200 * DAY)
    await clock.advance(timedelta(days=1))  # the job's first slot: the next midnight (UTC)
    await app.bus.drain()
    assert await _marks(app.store) == []
