"""Fixtures of the tests that use the local Redis server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis import asyncio as aioredis

URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A stream prefix of this test's own, its keys deleted afterwards."""
    name = f"ghtest-{uuid.uuid4().hex[:8]}"
    yield name
    r = aioredis.from_url(URL)
    keys = [k async for k in r.scan_iter(f"{name}:*")]
    if keys:
        await r.delete(*keys)
    await r.aclose()
