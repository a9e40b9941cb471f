"""Open a fresh store on each backend: SQLite in memory, or a throwaway PostgreSQL database.

PostgreSQL runs on this machine (and in CI, where .ci/run starts it when down); the URL can be
changed with GUILDHALL_TEST_PG_URL (a server URL whose database part is replaced per test).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.store import Store, open_store

PG_SERVER = os.environ.get("GUILDHALL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@asynccontextmanager
async def fresh_store(backend: str) -> AsyncIterator[Store]:
    """A migrated, empty store on ``backend`` ("sqlite" or "postgresql"), removed afterwards."""
    if backend == "sqlite":
        store = await open_store("sqlite://:memory:")
        try:
            yield store
        finally:
            await store.close()
        return
    import asyncpg

    name = f"gh_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_SERVER)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = PG_SERVER.rsplit("/", 1)[0]
    store = await open_store(f"{base}/{name}")
    try:
        yield store
    finally:
        await store.close()
        admin = await asyncpg.connect(PG_SERVER)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
