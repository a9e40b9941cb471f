"""Fixtures shared by the Slack and Discord adapter tests: a store for CLI commands, fake models."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from tests.store_backends import PG_SERVER


@pytest.fixture
def store_url(tmp_path: Path) -> Iterator[str]:
    """A store URL for commands to open: a SQLite file, or a throwaway PostgreSQL database with
    ``GUILDHALL_TEST_STORE=postgresql``."""
    if os.environ.get("GUILDHALL_TEST_STORE") != "postgresql":
        yield f"sqlite:///{tmp_path}/gh.db"
        return
    import asyncpg

    name = f"gh_test_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_SERVER)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_SERVER.rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def fake_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every app a command builds embeds with the hashing embedder and answers with the scripted
    model: no model to load."""
    import bot.app
    from bot.brain import Services
    from bot.testing import HashEmbedder, ScriptedLLM

    real_build = bot.app.build_app

    async def with_fakes(settings: Settings, **kwargs: Any) -> Any:
        services = Services()
        services.register("embedder", HashEmbedder())
        services.register("llm", ScriptedLLM())
        return await real_build(settings, services=services, **kwargs)

    monkeypatch.setattr(bot.app, "build_app", with_fakes)
    monkeypatch.setenv("GUILDHALL_LLM__BACKEND", "scripted")
    monkeypatch.setenv("GUILDHALL_LLM__WARMUP", "false")
