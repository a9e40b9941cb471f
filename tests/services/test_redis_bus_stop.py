"""Stopping a Redis bus worker mid-handler, or losing it outright, against the real local Redis:
in-flight handlers are drained, and an answer cut short is still given by the worker taking over."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from redis import asyncio as aioredis

from bot.app import GuildhallApp, build_app
from bot.brain import Services
from bot.bus_redis import RedisStreamsBus
from bot.config import Settings
from bot.events import MessagePosted, SendMessage
from bot.testing import FakeAdapter, HashEmbedder, ScriptedLLM, make_message
from tests.services.conftest import URL

pytestmark = pytest.mark.services


async def test_close_lets_a_running_handler_finish(prefix: str) -> None:
    """close() stops reading, then waits for the handler already running (as the in-process bus
    drains): its entry is acked, not left for another worker to run again after claim_idle_ms."""
    bus = RedisStreamsBus(URL, prefix=prefix, block_ms=20)
    started, done = asyncio.Event(), []

    async def slow(e: MessagePosted) -> None:
        started.set()
        await asyncio.sleep(0.5)
        done.append(e.message_id)

    bus.subscribe(MessagePosted, slow, name="slow")
    await bus.start()
    await bus.publish(make_message("hi", message_id="m1"))
    await asyncio.wait_for(started.wait(), 20)
    await bus.close()
    assert done == ["m1"]
    r = aioredis.from_url(URL)
    try:
        assert (await r.xpending(f"{prefix}:ev:messages", "slow"))["pending"] == 0
    finally:
        await r.aclose()


async def test_close_cancels_a_handler_past_the_drain_timeout(prefix: str) -> None:
    bus = RedisStreamsBus(URL, prefix=prefix, block_ms=20, drain_timeout_s=0.2)
    started = asyncio.Event()

    async def stuck(e: MessagePosted) -> None:
        started.set()
        await asyncio.sleep(60)

    bus.subscribe(MessagePosted, stuck, name="stuck")
    await bus.start()
    await bus.publish(make_message("hi", message_id="m1"))
    await asyncio.wait_for(started.wait(), 20)
    await asyncio.wait_for(bus.close(), 10)
    r = aioredis.from_url(URL)
    try:
        assert (await r.xpending(f"{prefix}:ev:messages", "stuck"))["pending"] == 1  # left for a live worker
    finally:
        await r.aclose()


async def test_a_claim_whose_holder_is_gone_is_taken_over(prefix: str) -> None:
    """A process killed outright (SIGKILL, OOM) leaves its claims: once its liveness key expires
    (before its pending entries are reclaimed) another process takes them over; a live holder's
    claim stays its own."""
    a = RedisStreamsBus(URL, prefix=prefix, claim_idle_ms=1000)
    b = RedisStreamsBus(URL, prefix=prefix, claim_idle_ms=1000)
    try:
        assert await a.claim_once("job@1", 600)
        assert not await b.claim_once("job@1", 600)
        assert a._heartbeat is not None
        a._heartbeat.cancel()  # a is killed: nothing renews its liveness key any more
        await asyncio.sleep(0.7)  # > half of claim_idle_ms
        assert await b.claim_once("job@1", 600)
        assert not await a.claim_once("job@1", 600)  # b holds it now
    finally:
        await a.close()
        await b.close()


def _settings(tmp_path: Path, prefix: str) -> Settings:
    return Settings(
        data_dir=str(tmp_path),
        store={"url": f"sqlite:///{tmp_path}/gh.db"},
        bus={"kind": "redis", "redis_url": URL, "stream_prefix": prefix},
        vectors={"path": str(tmp_path / "chroma")},
        llm={"backend": "scripted", "warmup": False},
        brains=["qa"],
    )


async def _gateway(settings: Settings, prefix: str) -> tuple[GuildhallApp, FakeAdapter]:
    """A started gateway, with the fake adapter members' messages come in through."""
    gw = await build_app(settings, role="gateway", bus=RedisStreamsBus(URL, prefix=prefix, block_ms=20))
    adapter = FakeAdapter()
    gw.add_adapter(adapter)
    await gw.start()
    return gw, adapter


async def _sent_texts(adapter: FakeAdapter) -> list[str]:
    """The texts sent through ``adapter``, once there is one (or after 20 s)."""
    for _ in range(400):
        if adapter.of_type(SendMessage):
            break
        await asyncio.sleep(0.05)
    return [a.text for a in adapter.of_type(SendMessage)]


async def _worker(settings: Settings, prefix: str, delay: float, drain_s: float) -> tuple[GuildhallApp, asyncio.Event]:
    services = Services()
    services.register("embedder", HashEmbedder())
    services.register("llm", ScriptedLLM("ok"))
    bus = RedisStreamsBus(URL, prefix=prefix, block_ms=20, claim_idle_ms=1000, drain_timeout_s=drain_s)
    app = await build_app(settings, role="worker", services=services, bus=bus)
    qa: Any = app.brain("qa")
    started = asyncio.Event()

    async def slow_answer(question: str, **kw: Any) -> str:  # retrieval and generation
        started.set()
        await asyncio.sleep(delay)
        return "here is your answer"

    qa._answer = slow_answer
    await app.start()
    return app, started


@pytest.mark.parametrize("drain_s", [30.0, 0.1], ids=["drained", "cancelled"])
async def test_a_mention_cut_short_by_a_stop_is_answered(tmp_path: Path, prefix: str, drain_s: float) -> None:
    """A worker stopped mid-answer (a rolling deploy): drained, it answers before it exits; cut
    short past the drain timeout, its claim on the question is given back, so the worker taking the
    entry over answers instead of finding the question claimed and acking it unanswered."""
    settings = _settings(tmp_path, prefix)
    gw, adapter = await _gateway(settings, prefix)
    try:
        w1, started1 = await _worker(settings, prefix, delay=1.0 if drain_s > 1 else 60.0, drain_s=drain_s)
        await adapter.inject(make_message("@guildhall how do I deploy?", message_id="q1", mentions_bot=True))
        await asyncio.wait_for(started1.wait(), 20)
        await w1.stop()
        w2, _ = await _worker(settings, prefix, delay=0, drain_s=drain_s)
        try:
            assert await _sent_texts(adapter) == ["here is your answer"]
        finally:
            await w2.stop()
    finally:
        await gw.stop()


async def test_a_mention_whose_answer_failed_is_answered_on_retry(tmp_path: Path, prefix: str) -> None:
    """The answer attempt raised (a store hiccup): the bus retries the event after claim_idle_ms in
    the same live worker, which must find the question free, not still claimed by the failed attempt."""
    settings = _settings(tmp_path, prefix)
    gw, adapter = await _gateway(settings, prefix)
    w, _ = await _worker(settings, prefix, delay=0, drain_s=1.0)
    qa: Any = w.brain("qa")
    calls: list[str] = []

    async def flaky(question: str, **kw: Any) -> str:
        calls.append(question)
        if len(calls) == 1:
            raise RuntimeError("the model crashed")
        return "here is your answer"

    qa._answer = flaky
    try:
        await adapter.inject(make_message("@guildhall how do I deploy?", message_id="q1", mentions_bot=True))
        assert await _sent_texts(adapter) == ["here is your answer"]
    finally:
        await w.stop()
        await gw.stop()
