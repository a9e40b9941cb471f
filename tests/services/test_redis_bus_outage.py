"""The Redis bus during an outage: publishes don't stall on Redis, and ``/healthz`` tells the truth."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis import asyncio as aioredis

from bot.bus_redis import RedisStreamsBus
from bot.events import MessagePosted
from bot.metrics import check_health
from bot.privacy.gate import RedactingBus
from bot.privacy.redact import Redactor
from bot.store import Store, open_store
from bot.testing import make_message
from tests.services.conftest import URL

pytestmark = pytest.mark.services
DOWN = "redis://127.0.0.1:1/0"  # nothing listens there: Redis is gone


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    s = await open_store("sqlite://:memory:")
    yield s
    await s.close()


class _CountingPipelines:
    """Counts the round trips ``publish`` starts on a client (each one a pipeline)."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.count = 0
        self._pipeline = client.pipeline

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.count += 1
        return self._pipeline(*args, **kwargs)


async def test_while_events_are_buffered_publish_queues_behind_them_without_trying_redis(prefix: str) -> None:
    bus = RedisStreamsBus(URL, prefix=prefix, block_ms=20)
    got: list[str] = []

    async def handler(e: MessagePosted) -> None:
        got.append(e.message_id)

    bus.subscribe(MessagePosted, handler, name="rec")
    await bus.start()
    real = bus._redis
    down = aioredis.from_url(DOWN, socket_connect_timeout=0.05)
    attempts = _CountingPipelines(down)
    down.pipeline = attempts  # type: ignore[method-assign]
    bus._redis = down
    assert await bus.publish(make_message("x", message_id="first"))
    assert bus.buffered == 1
    tried_first = attempts.count
    # Blackholed, each of these round trips (the dedupe SET NX) stalled the gateway up to the 5 s
    # connect timeout, only to buffer the event behind the others anyway.
    for i in range(5):
        assert await bus.publish(make_message("x", message_id=f"next{i}"))
    assert await bus.publish_many([make_message("x", message_id="batch")]) == 1
    assert attempts.count == tried_first
    assert bus.buffered == 7
    await down.aclose()
    bus._redis = real  # Redis is back: everything arrives, in order
    await bus.drain(timeout=20)
    assert got == ["first", *(f"next{i}" for i in range(5)), "batch"]
    await bus.close()


async def test_health_fails_a_worker_but_only_degrades_a_gateway_while_redis_is_down(prefix: str, store: Store) -> None:
    bus = RedisStreamsBus(URL, prefix=prefix, block_ms=20, buffer_size=2)
    gated = RedactingBus(bus, Redactor([]))  # what create_bus returns
    await bus.start()
    assert await check_health(store, gated, role="worker") == {
        "status": "ok",
        "store": "up",
        "bus": "redis",
        "redis": "up",
        "buffered": 0,
        "buffer_full": False,
    }
    real = bus._redis
    bus._redis = aioredis.from_url(DOWN, socket_connect_timeout=0.05)
    try:
        await gated.publish(make_message("x", message_id="down1"))
        worker = await check_health(store, gated, role="worker")
        assert (worker["status"], worker["reason"], worker["redis"]) == ("fail", "redis unreachable", "down")
        gateway = await check_health(store, gated, role="gateway")
        assert (gateway["status"], gateway["buffered"]) == ("degraded", 1)
        assert gateway["reason"] == "redis unreachable; 1 events buffered for redis"

        await gated.publish(make_message("x", message_id="down2"))  # the buffer is full now
        gateway = await check_health(store, gated, role="gateway")
        assert gateway["status"] == "fail"
        assert gateway["reason"] == "redis bus buffer full (2 events): publishers are waiting"
    finally:
        await bus._redis.aclose()
        bus._redis = real
    await bus.drain(timeout=20)
    assert (await check_health(store, gated, role="worker"))["status"] == "ok"
    await bus.close()
