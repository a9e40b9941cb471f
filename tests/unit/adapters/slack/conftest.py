"""Fixtures of the Slack adapter tests: the fake Slack Web API and an in-memory store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.store import Store, open_store
from tests.slack_fakes import FakeSlackAPI


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlackAPI]:
    """A running fake Web API (tests that need seeded history or users define their own)."""
    f = await FakeSlackAPI().start()
    yield f
    await f.stop()


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    """A migrated in-memory store."""
    s = await open_store("sqlite://:memory:")
    yield s
    await s.close()
