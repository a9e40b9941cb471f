"""``/healthz`` reports what the process needs: 503 with a reason when it cannot work, never hangs."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from bot.config import Settings
from bot.metrics import MetricsServer, check_health
from tests.conftest import AppFactory


async def _get_health(port: int) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/healthz") as resp:
        return resp.status, await resp.json()


class _HangingDatabase:
    """A database that accepted the connection but never answers (a PostgreSQL behind a dead link)."""

    dialect = "sqlite"

    async def fetchone(self, sql: str, params: Any = ()) -> None:
        await asyncio.Event().wait()


class _HangingStore:
    db = _HangingDatabase()


async def test_the_app_serves_its_health_and_a_dead_store_answers_503(make_app: AppFactory, settings: Settings) -> None:
    app, _ = await make_app(settings_override=settings.model_copy(update={"metrics_port": 0}))
    assert app.metrics is not None
    status, body = await _get_health(app.metrics.port)
    assert (status, body["status"], body["store"], body["bus"]) == (200, "ok", "up", "memory")

    # The store's connection is gone (a closed SQLite connection raises on every query).
    real_db = app.store.db
    await real_db.close()
    try:
        status, body = await _get_health(app.metrics.port)
    finally:
        app.store.db = _ReopenedOnStop(real_db)  # type: ignore[assignment]
    assert status == 503
    assert body["status"] == "fail"
    assert body["reason"] == "store unreachable"


class _ReopenedOnStop:
    """Stands in for a database closed by the test, so the app's own close at teardown is a no-op."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.dialect = inner.dialect

    async def close(self) -> None:
        return None


async def test_a_store_that_never_answers_is_reported_within_the_timeout() -> None:
    body = await check_health(_HangingStore(), object(), timeout_s=0.05)  # type: ignore[arg-type]
    assert body == {"status": "fail", "reason": "store unreachable", "store": "down", "bus": "memory"}


async def test_a_health_check_that_raises_or_hangs_answers_503_not_500_or_silence() -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("boom")

    async def hung() -> dict[str, Any]:
        await asyncio.Event().wait()
        return {}

    for check, reason in ((broken, "health check failed: RuntimeError: boom"), (hung, "did not finish")):
        server = MetricsServer(0, role="worker", host="127.0.0.1", health=check, health_timeout_s=0.05)
        await server.start()
        try:
            status, body = await _get_health(server.port)
        finally:
            await server.stop()
        assert status == 503
        assert body["status"] == "fail"
        assert reason in body["reason"]


async def test_an_async_health_check_saying_degraded_still_answers_200() -> None:
    async def degraded() -> dict[str, Any]:
        return {"status": "degraded", "reason": "3 events buffered for redis"}

    server = MetricsServer(0, role="gateway", host="127.0.0.1", health=degraded)
    await server.start()
    try:
        status, body = await _get_health(server.port)
    finally:
        await server.stop()
    assert (status, body["status"], body["role"]) == (200, "degraded", "gateway")
