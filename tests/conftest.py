"""Shared fixtures: an app on in-memory SQLite with fake models and a fake adapter."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.app import GuildhallApp, build_app
from bot.brain import Brain, Services
from bot.clock import FakeClock
from bot.config import Settings
from bot.testing import FakeAdapter, HashEmbedder, ScriptedLLM
from tests.store_backends import fresh_store, set_cli_env

SHARED_DATA = Path(os.environ.get("GUILDHALL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))

AppFactory = Callable[..., Awaitable[tuple[GuildhallApp, FakeAdapter]]]


@pytest.fixture
def shared_data() -> Path:
    """The real-data folder; tests using it skip cleanly when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not available")
    return SHARED_DATA


@pytest.fixture
def db_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SQLite file store for CLI commands (``GUILDHALL_STORE__URL``), no brains, no config file;
    returns the store's URL."""
    return set_cli_env(monkeypatch, f"sqlite:///{tmp_path}/gh.db", tmp_path)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings on temporary storage with the scripted LLM."""
    return Settings(
        data_dir=str(tmp_path),
        store={"url": "sqlite://:memory:"},
        vectors={"path": str(tmp_path / "chroma")},
        llm={"backend": "scripted", "warmup": False},
        brains=[],
    )


@pytest.fixture
async def make_app(settings: Settings) -> AsyncIterator[AppFactory]:
    """Build and start an app; ``await make_app(brains=["qa"], llm=ScriptedLLM("..."))``.

    With ``GUILDHALL_TEST_STORE=postgresql`` every app gets a throwaway PostgreSQL database instead
    of in-memory SQLite, so the same brain tests prove the PostgreSQL store (``make test`` runs both).
    """
    apps: list[GuildhallApp] = []
    stores: list[Any] = []

    async def factory(
        *,
        brains: list[str] | None = None,
        extra_brains: list[type[Brain]] | None = None,
        llm: Any = None,
        embedder: Any = None,
        clock: FakeClock | None = None,
        settings_override: Settings | None = None,
    ) -> tuple[GuildhallApp, FakeAdapter]:
        services = Services()
        services.register("embedder", embedder or HashEmbedder())
        services.register("llm", llm or ScriptedLLM())
        store = None
        if os.environ.get("GUILDHALL_TEST_STORE") == "postgresql":
            context = fresh_store("postgresql")
            store = await context.__aenter__()
            stores.append(context)
        app = await build_app(
            settings_override or settings,
            store=store,
            services=services,
            brains=brains or [],
            extra_brains=extra_brains,
            clock=clock or FakeClock(),
        )
        adapter = FakeAdapter()
        app.add_adapter(adapter)
        await app.start()
        apps.append(app)
        return app, adapter

    yield factory
    for app in apps:
        await app.stop()
    for context in stores:
        await context.__aexit__(None, None, None)
