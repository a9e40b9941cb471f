"""A gateway and a worker process shape, linked only by Redis Streams: a command goes in through the
gateway, the worker answers, the answer comes back to the gateway's adapter."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from redis import asyncio as aioredis

from bot.app import build_app
from bot.bus_redis import RedisStreamsBus
from bot.config import Settings
from bot.events import CommandReply
from bot.roles import RoleError, check_role
from bot.testing import FakeAdapter, command, make_message

pytestmark = pytest.mark.services
REDIS = "redis://127.0.0.1:6379/15"


def test_roles_refuse_unworkable_configs() -> None:
    with pytest.raises(RoleError, match="Redis bus"):
        check_role(Settings(), "worker")
    with pytest.raises(RoleError, match="platform connections"):
        check_role(Settings(bus={"kind": "redis"}), "gateway")
    check_role(Settings(), "all")


def test_a_worker_on_embedded_chroma_is_warned_that_its_index_is_its_own(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="bot.roles"):
        check_role(Settings(bus={"kind": "redis"}), "worker")
    assert "embedded Chroma" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="bot.roles"):
        check_role(Settings(bus={"kind": "redis"}, vectors={"kind": "http"}), "worker")
    assert "embedded Chroma" not in caplog.text


async def test_gateway_and_worker_talk_through_redis(tmp_path: Path) -> None:
    prefix = f"ghroles-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        store={"url": f"sqlite:///{tmp_path}/gh.db"},
        bus={"kind": "redis", "redis_url": REDIS, "stream_prefix": prefix},
        brains=[],
        vectors={"path": str(tmp_path / "chroma")},
    )
    worker = await build_app(settings, role="worker", bus=RedisStreamsBus(REDIS, prefix=prefix, block_ms=20))
    gateway = await build_app(settings, role="gateway", bus=RedisStreamsBus(REDIS, prefix=prefix, block_ms=20))
    adapter = FakeAdapter()
    gateway.add_adapter(adapter)
    await worker.start()
    await gateway.start()
    try:
        await adapter.inject(make_message("stored by the worker", message_id="r1"))
        await adapter.inject(command("help"))
        for _ in range(3):
            await worker.bus.drain()
            await gateway.bus.drain()
        replies = adapter.of_type(CommandReply)
        assert replies and "/forget-me" in replies[0].text
        stored = await worker.store.get_message("console", "local", "r1")
        assert stored is not None and stored.text == "stored by the worker"
        assert worker.role == "worker" and gateway.role == "gateway"
        assert gateway.brains == [] and [b.name for b in worker.brains] == ["core"]
    finally:
        await gateway.stop()
        await worker.stop()
        r = aioredis.from_url(REDIS)
        keys = [k async for k in r.scan_iter(f"{prefix}:*")]
        if keys:
            await r.delete(*keys)
        await r.aclose()
