"""Fixtures shared by the Slack and Discord adapter tests: a store for CLI commands, fake models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from tests.store_backends import fresh_database_url


@pytest.fixture
def store_url(tmp_path: Path) -> Iterator[str]:
    """A store URL for commands to open: a SQLite file, or a throwaway PostgreSQL database with
    ``GUILDHALL_TEST_STORE=postgresql``."""
    with fresh_database_url(tmp_path) as url:
        yield url


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
