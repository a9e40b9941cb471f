"""Fixtures of the activity tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.store import Store
from tests.store_backends import fresh_store


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """A fresh store on each backend (modules with their own ``store`` fixture use theirs)."""
    async with fresh_store(request.param) as s:
        yield s
