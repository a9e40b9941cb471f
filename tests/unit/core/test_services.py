"""Shared services: one factory run per name, however many handlers ask at once."""

from __future__ import annotations

import asyncio

import pytest

from bot.brain import Services


async def test_concurrent_first_calls_share_one_factory_run() -> None:
    calls = 0
    gate = asyncio.Event()

    async def slow_model() -> object:
        nonlocal calls
        calls += 1
        await gate.wait()
        return object()

    services = Services()
    services.register_factory("embedder", slow_model)
    waiters = [asyncio.create_task(services.get("embedder")) for _ in range(5)]
    await asyncio.sleep(0)  # let every waiter reach the pending creation
    gate.set()
    got = await asyncio.gather(*waiters)
    assert calls == 1
    assert all(obj is got[0] for obj in got)
    assert services.peek("embedder") is got[0]


async def test_a_failed_factory_reaches_every_waiter_and_can_be_retried() -> None:
    attempts = 0

    async def flaky() -> str:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0)
        if attempts == 1:
            raise OSError("model file missing")
        return "ready"

    services = Services()
    services.register_factory("llm", flaky)
    results = await asyncio.gather(services.get("llm"), services.get("llm"), return_exceptions=True)
    assert all(isinstance(r, OSError) for r in results)
    assert await services.get("llm") == "ready"
    assert attempts == 2


async def test_unknown_service_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        await Services().get("nope")
