"""A service a handler needs going away for a while (PostgreSQL restarting) is an outage, not a
poison event: the Redis bus retries in place without counting deliveries, so nothing is
dead-lettered; a genuine poison event still is. Against the real local Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
from redis import asyncio as aioredis

from bot.app import build_app
from bot.bus_redis import RedisStreamsBus, is_outage
from bot.config import Settings
from bot.events import MessagePosted
from bot.store.db import StoreTimeoutError
from bot.testing import make_message
from tests.services.conftest import URL
from tests.store_backends import PG_SERVER, fresh_database

pytestmark = pytest.mark.services


def test_outages_are_told_from_poison() -> None:
    class CannotConnectNowError(Exception):
        sqlstate = "57P03"

    assert is_outage(ConnectionResetError())
    assert is_outage(StoreTimeoutError("no answer in 30 s"))
    assert is_outage(CannotConnectNowError("the database system is starting up"))
    assert is_outage(RuntimeError('database "x" is not currently accepting connections'))
    wrapped = RuntimeError("store call failed")
    wrapped.__cause__ = ConnectionRefusedError()
    assert is_outage(wrapped)
    assert not is_outage(ValueError("bad payload"))
    assert not is_outage(TimeoutError())  # a handler's own deadline (the model) is not an outage
    assert not is_outage(KeyError("text"))
    # The same rule as the in-process bus: SQLite waiting past busy_timeout_s for another process's
    # lock (an import beside the workers) is an outage too, and so are redis-py's own errors.
    import sqlite3

    from redis.exceptions import TimeoutError as RedisTimeoutError

    assert is_outage(sqlite3.OperationalError("database is locked"))
    assert is_outage(RedisTimeoutError("Timeout reading from socket"))


async def test_an_outage_longer_than_max_deliveries_dead_letters_nothing(prefix: str) -> None:
    bus = RedisStreamsBus(URL, prefix=prefix, block_ms=20, claim_idle_ms=300, max_deliveries=2)
    fails = {"m1": 6}
    handled: list[str] = []

    async def handler(e: MessagePosted) -> None:
        if e.message_id == "poison":
            raise ValueError("cannot handle this one")
        if fails.get(e.message_id, 0) > 0:
            fails[e.message_id] -= 1
            raise ConnectionRefusedError("store down")
        handled.append(e.message_id)

    bus.subscribe(MessagePosted, handler, name="outage")
    await bus.start()
    try:
        await bus.publish(make_message("during", message_id="m1"))
        await bus.publish(make_message("poison", message_id="poison"))
        await bus.drain(timeout=60)
        assert handled == ["m1"]
        letters = await bus.dead_letters()
        assert [letter["error"].split(" ", 1)[0] for letter in letters] == ["ValueError"]
    finally:
        await bus.close()


async def test_a_postgresql_outage_loses_no_live_event(tmp_path: Path, prefix: str) -> None:
    async with fresh_database("postgresql") as url:
        db = url.rsplit("/", 1)[1]
        admin = await asyncpg.connect(PG_SERVER)
        settings = Settings(
            data_dir=str(tmp_path),
            store={"url": url},
            bus={"kind": "redis", "redis_url": URL, "stream_prefix": prefix},
            vectors={"path": str(tmp_path / "chroma")},
            brains=[],
        )
        worker = await build_app(
            settings, role="worker", bus=RedisStreamsBus(URL, prefix=prefix, block_ms=20, claim_idle_ms=500)
        )
        await worker.start()
        pub = RedisStreamsBus(URL, prefix=prefix)
        try:
            await pub.publish(make_message("before", message_id="m0"))
            await worker.bus.drain(timeout=30)
            await admin.execute(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS false')
            await admin.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'")
            for i in range(1, 4):
                await pub.publish(make_message(f"during outage {i}", message_id=f"m{i}", minutes=i))
            await asyncio.sleep(5)  # ten times claim_idle_ms: max_deliveries passed many times over
            await admin.execute(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS true')
            await worker.bus.drain(timeout=60)
            rows = await worker.store.db.fetchall("SELECT message_id FROM messages")
            assert {r[0] for r in rows} >= {"m0", "m1", "m2", "m3"}
            r = aioredis.from_url(URL)
            try:
                assert await r.xlen(f"{prefix}:dlq") == 0
            finally:
                await r.aclose()
        finally:
            await admin.execute(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS true')
            await worker.stop()
            await pub.close()
            await admin.close()
