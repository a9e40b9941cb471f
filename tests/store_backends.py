"""Open a fresh store on each backend: SQLite in memory, or a throwaway PostgreSQL database.

PostgreSQL runs on this machine (and in CI, where .ci/run starts it when down); the URL can be
changed with GUILDHALL_TEST_PG_URL (a server URL whose database part is replaced per test).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest

from bot.store import Store, open_store

PG_SERVER = os.environ.get("GUILDHALL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_SERVER)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@asynccontextmanager
async def fresh_database(backend: str, tmp_path: Path | None = None) -> AsyncIterator[str]:
    """The URL of an empty database on ``backend``: a SQLite file under ``tmp_path`` (in memory
    without one), or a throwaway PostgreSQL database, dropped afterwards. Several stores (several
    processes) may open it."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path}/gh.db" if tmp_path is not None else "sqlite://:memory:"
        return
    name = f"gh_test_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_SERVER.rsplit('/', 1)[0]}/{name}"
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def fresh_database_url(tmp_path: Path) -> Iterator[str]:
    """:func:`fresh_database` for synchronous fixtures (a CLI opens the store itself), on the
    backend ``GUILDHALL_TEST_STORE`` names (SQLite by default)."""
    if os.environ.get("GUILDHALL_TEST_STORE") != "postgresql":
        yield f"sqlite:///{tmp_path}/gh.db"
        return
    name = f"gh_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_SERVER.rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@asynccontextmanager
async def fresh_store(backend: str) -> AsyncIterator[Store]:
    """A migrated, empty store on ``backend`` ("sqlite" or "postgresql"), removed afterwards."""
    async with fresh_database(backend) as url:
        store = await open_store(url)
        try:
            yield store
        finally:
            await store.close()


def set_cli_env(monkeypatch: pytest.MonkeyPatch, url: str, tmp_path: Path) -> str:
    """The environment of ``guildhall`` commands run in a test: the store at ``url``, no brains,
    no config file, the vector index under ``tmp_path``; returns ``url``."""
    monkeypatch.setenv("GUILDHALL_STORE__URL", url)
    monkeypatch.setenv("GUILDHALL_BRAINS", "[]")
    monkeypatch.setenv("GUILDHALL_CONFIG", os.devnull)
    monkeypatch.setenv("GUILDHALL_VECTORS__PATH", str(tmp_path / "chroma"))
    return url
