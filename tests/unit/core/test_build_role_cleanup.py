"""A gateway whose adapter cannot be built closes the store build_app opened: an open SQLite store
runs a non-daemon thread, and the process would print its error and never exit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import bot.roles
from bot.app import GuildhallApp
from bot.config import load_settings


async def test_a_failing_adapter_factory_closes_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "none.toml"
    cfg.write_text("")
    settings = load_settings(
        cfg,
        environ={
            "DISCORD_TOKEN": "x" * 30,
            "GUILDHALL_BUS__KIND": "redis",
            "GUILDHALL_STORE__URL": f"sqlite:///{tmp_path}/guildhall.db",
            "GUILDHALL_DATA_DIR": str(tmp_path),
        },
    )
    built: list[GuildhallApp] = []
    real_build_app = bot.roles.build_app

    async def build_app(*args: Any, **kwargs: Any) -> GuildhallApp:
        app = await real_build_app(*args, **kwargs)
        built.append(app)
        return app

    def broken_factory(platform: str, settings: Any, app: Any) -> Any:
        raise RuntimeError(f"the {platform} adapter is not installed")

    monkeypatch.setattr(bot.roles, "build_app", build_app)
    with pytest.raises(RuntimeError, match="not installed"):
        await bot.roles.build_role(settings, "gateway", broken_factory)
    [app] = built
    with pytest.raises(Exception, match="closed"):
        await app.store.db.fetchone("SELECT 1")
