"""Health and metrics endpoints."""

from __future__ import annotations

import aiohttp

from bot.metrics import EVENTS_IN, MetricsServer, timed


async def test_healthz_and_metrics_are_served() -> None:
    server = MetricsServer(0, role="worker", host="127.0.0.1", health=lambda: {"bus": "memory"})
    await server.start()
    EVENTS_IN.labels("MessagePosted").inc()

    async def handler(event: object) -> None:
        return None

    await timed("qa.answer", handler)(object())
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{server.port}/healthz") as resp:
                assert resp.status == 200
                body = await resp.json()
                assert body == {"status": "ok", "role": "worker", "bus": "memory"}
            async with session.get(f"http://127.0.0.1:{server.port}/metrics") as resp:
                text = await resp.text()
                assert 'guildhall_events_in_total{type="MessagePosted"}' in text
                assert 'guildhall_handler_seconds_count{subscription="qa.answer"} 1.0' in text
    finally:
        await server.stop()
