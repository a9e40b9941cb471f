"""Two worker processes share a stream; one is SIGKILLed mid-batch; nothing is lost or doubled."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path

import pytest
from redis import asyncio as aioredis

from bot.bus_redis import RedisStreamsBus
from bot.testing import make_message
from tests.store_backends import fresh_store

pytestmark = pytest.mark.services
REDIS = "redis://127.0.0.1:6379/15"
ROOT = Path(__file__).resolve().parents[2]


async def _spawn(prefix: str, pg_url: str, name: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "tests" / "services" / "redis_worker.py"),
        REDIS,
        prefix,
        pg_url,
        name,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
    assert b"ready" in line, line
    return proc


async def test_killed_worker_pending_events_are_reclaimed_exactly_once() -> None:
    prefix = f"ghkill-{uuid.uuid4().hex[:8]}"
    async with fresh_store("postgresql") as store:
        pg_url = store.db._pool._connect_args[0]  # type: ignore[attr-defined]
        w1 = await _spawn(prefix, pg_url, "w1")
        w2 = await _spawn(prefix, pg_url, "w2")
        producer = RedisStreamsBus(REDIS, prefix=prefix)
        try:
            total = 400
            for i in range(total):
                await producer.publish(make_message(f"msg {i}", message_id=f"k{i}", minutes=i))
            # Let both workers pick up batches, then kill one while it holds pending entries.
            assert w1.stdout is not None
            await asyncio.wait_for(w1.stdout.readline(), timeout=30)
            r = aioredis.from_url(REDIS)
            stream = f"{prefix}:ev:messages"
            held_by_w1 = 0
            for _ in range(500):
                consumers = await r.xpending_range(
                    stream, "core.recorder", min="-", max="+", count=1000, consumername="w1"
                )
                held_by_w1 = len(consumers)
                if held_by_w1:
                    break
                await asyncio.sleep(0.005)
            w1.send_signal(signal.SIGKILL)
            await w1.wait()
            assert held_by_w1 > 0, "w1 should have died holding unacknowledged entries"
            await r.aclose()
            deadline = asyncio.get_running_loop().time() + 60
            while asyncio.get_running_loop().time() < deadline:
                row = await store.db.fetchone("SELECT COUNT(*) FROM messages")
                if row and row[0] == total:
                    break
                await asyncio.sleep(0.2)
            rows = await store.db.fetchall("SELECT message_id, text FROM messages ORDER BY message_id")
            assert len(rows) == total
            assert {r[0] for r in rows} == {f"k{i}" for i in range(total)}
            r = aioredis.from_url(REDIS)
            pending = await r.xpending(f"{prefix}:ev:messages", "core.recorder")
            assert pending["pending"] == 0
            await r.aclose()
        finally:
            for proc in (w1, w2):
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
            await producer.close()
            r = aioredis.from_url(REDIS)
            keys = [k async for k in r.scan_iter(f"{prefix}:*")]
            if keys:
                await r.delete(*keys)
            await r.aclose()
