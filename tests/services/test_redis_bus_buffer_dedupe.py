"""Events buffered while Redis was unreachable are de-duplicated when flushed, as a direct publish
is: a platform's redelivery during an outage lands once. Against the real local Redis."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.bus_redis import RedisStreamsBus
from bot.testing import make_message
from tests.services.conftest import URL

pytestmark = pytest.mark.services


async def test_a_redelivery_during_an_outage_is_added_once(prefix: str) -> None:
    bus = RedisStreamsBus(URL, prefix=prefix, block_ms=20)
    await bus.publish(make_message("asked before", message_id="q0"))  # Redis took it, key set
    down = [True]
    publish, flush = bus._publish_atomically, bus._flush_one

    async def refused_publish(out: Any) -> Any:
        if down[0]:
            raise RedisConnectionError("Connection refused.")
        return await publish(out)

    async def refused_flush(*args: Any) -> Any:
        if down[0]:
            raise RedisConnectionError("Connection refused.")
        return await flush(*args)

    bus._publish_atomically = refused_publish  # type: ignore[method-assign]
    bus._flush_one = refused_flush  # type: ignore[method-assign]
    q = make_message("@guildhall and how do I roll back?", message_id="q2", thread_id="t1", mentions_bot=True)
    await bus.publish(q)
    await bus.publish(q)  # the platform's retry of the same event
    await bus.publish(make_message("asked before", message_id="q0"))  # and of one Redis already has
    assert bus.buffered == 3
    down[0] = False
    for _ in range(200):
        if not bus.buffered:
            break
        await asyncio.sleep(0.02)
    r = aioredis.from_url(URL)
    try:
        ids = [f[b"json"] for _, f in await r.xrange(f"{prefix}:ev:messages")]
        assert sum(b'"q2"' in j for j in ids) == 1
        assert sum(b'"q0"' in j for j in ids) == 1
    finally:
        await r.aclose()
        await bus.close()
