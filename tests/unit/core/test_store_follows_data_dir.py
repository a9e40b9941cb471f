"""The SQLite store lives in data_dir unless store.url says otherwise: one data_dir is one bot's
whole state, so the data_dir lock guards the database too (two bots with their own data_dir in one
folder both wrote ./data/guildhall.db before)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.config import LEGACY_STORE_URL, load_settings


def _load(tmp_path: Path, env: dict[str, str]) -> object:
    cfg = tmp_path / "none.toml"
    cfg.write_text("")
    return load_settings(cfg, environ=env)


def test_the_default_store_is_in_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    a = _load(tmp_path, {"GUILDHALL_DATA_DIR": "bot-a"})
    b = _load(tmp_path, {"GUILDHALL_DATA_DIR": str(tmp_path / "bot-b")})
    assert a.store.url == "sqlite:///bot-a/guildhall.db"  # type: ignore[attr-defined]
    assert b.store.url == f"sqlite:///{tmp_path}/bot-b/guildhall.db"  # type: ignore[attr-defined]
    assert _load(tmp_path, {}).store.url == LEGACY_STORE_URL  # type: ignore[attr-defined]


def test_an_explicit_url_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"GUILDHALL_DATA_DIR": "bot-a", "GUILDHALL_STORE__URL": "postgresql://localhost/test"}
    assert _load(tmp_path, env).store.url == "postgresql://localhost/test"  # type: ignore[attr-defined]


def test_an_install_with_its_database_at_the_old_place_keeps_it_and_is_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """data_dir set elsewhere, database still at ./data/guildhall.db (where earlier versions put
    it): the bot keeps it rather than start on an empty database, and says how to move it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "guildhall.db").write_bytes(b"")
    (tmp_path / "elsewhere" / "chroma").mkdir(parents=True)  # the earlier runs' vector index
    with caplog.at_level(logging.WARNING, logger="bot.config"):
        settings = _load(tmp_path, {"GUILDHALL_DATA_DIR": "elsewhere"})
    assert settings.store.url == LEGACY_STORE_URL  # type: ignore[attr-defined]
    assert any("elsewhere/guildhall.db" in r.getMessage() for r in caplog.records)
    # Once moved (or a database already in data_dir), data_dir's is used.
    (tmp_path / "elsewhere" / "guildhall.db").write_bytes(b"")
    assert _load(tmp_path, {"GUILDHALL_DATA_DIR": "elsewhere"}).store.url == "sqlite:///elsewhere/guildhall.db"  # type: ignore[attr-defined]


def test_a_second_bot_with_a_new_data_dir_never_takes_the_first_bots_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bot on the default data_dir runs in this folder (./data/guildhall.db); a second one given
    a fresh data_dir gets its own database (found by review: the fallback took the first bot's)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "guildhall.db").write_bytes(b"")
    assert _load(tmp_path, {"GUILDHALL_DATA_DIR": "bot-b"}).store.url == "sqlite:///bot-b/guildhall.db"  # type: ignore[attr-defined]
    # A first run of bot B that stopped before opening its store (a brain not installed, Ctrl-C)
    # leaves its lock file: still no earlier database of B's to look for elsewhere.
    (tmp_path / "bot-b").mkdir()
    (tmp_path / "bot-b" / "guildhall.lock").write_text("")
    assert _load(tmp_path, {"GUILDHALL_DATA_DIR": "bot-b"}).store.url == "sqlite:///bot-b/guildhall.db"  # type: ignore[attr-defined]
