"""A worker process for the Redis bus tests: consumes MessagePosted into a PostgreSQL store.

Usage: python tests/services/redis_worker.py REDIS_URL PREFIX PG_URL NAME
Each batch is handled slowly so a SIGKILL lands while entries are pending.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from bot.bus_redis import RedisStreamsBus
from bot.events import Event
from bot.recorder import RECORDED_TYPES, Recorder
from bot.store import open_store


async def main(redis_url: str, prefix: str, pg_url: str, name: str) -> None:
    store = await open_store(pg_url)
    recorder = Recorder(store)
    bus = RedisStreamsBus(redis_url, prefix=prefix, consumer=name, claim_idle_ms=500, block_ms=20)

    async def slow_batch(events: Sequence[Event]) -> None:
        await asyncio.sleep(0.05)
        await recorder.handle_batch(events)
        print(f"{name} handled {len(events)}", flush=True)

    bus.subscribe_batch(RECORDED_TYPES, slow_batch, name="core.recorder", max_batch=20)
    await bus.start()
    print(f"{name} ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
