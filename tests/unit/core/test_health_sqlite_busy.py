"""``/healthz`` on SQLite: a store waiting for another process's write lock is busy, not broken.

Another process (``guildhall import`` beside the bot) holds the write lock with ``BEGIN IMMEDIATE``;
the bot's write waits for it (``store.busy_timeout_s``) and holds the store's one connection, so a
``SELECT 1`` through it cannot answer. The file still reads fine beside it (WAL), which is what tells
this apart from a store whose file is gone or whose connection is closed.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.metrics import MetricsServer, check_health
from bot.store import Store, open_store

PROBE_S = 0.2  # the health probe's limit; the lock is held until the test releases it
HANG = 30.0  # the bot's busy wait: far longer than the test ever holds the lock

# Another process: take the write lock, write, say so, and commit when told to (a line on stdin).
IMPORTER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO settings_probe (id) VALUES (100)")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("COMMIT")
conn.close()
"""


@pytest.fixture
async def file_store(tmp_path: Path) -> AsyncIterator[Store]:
    store = await open_store(f"sqlite:///{tmp_path / 'guildhall.db'}", busy_timeout_s=HANG)
    await store.db.execute("CREATE TABLE settings_probe (id INTEGER PRIMARY KEY)")
    try:
        yield store
    finally:
        await store.close()


async def _importer_holding_the_lock(path: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", IMPORTER, path, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    assert await proc.stdout.readline() == b"locked\n"
    return proc


async def _release(proc: asyncio.subprocess.Process) -> None:
    assert proc.stdin is not None
    proc.stdin.write(b"go\n")
    await proc.stdin.drain()
    assert await proc.wait() == 0


async def _get_health(port: int) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/healthz") as resp:
        return resp.status, await resp.json()


async def test_a_write_waiting_for_another_process_lock_is_degraded_not_failed(
    file_store: Store, tmp_path: Path
) -> None:
    db = file_store.db
    importer = await _importer_holding_the_lock(str(tmp_path / "guildhall.db"))
    server = MetricsServer(
        0,
        host="127.0.0.1",
        health=partial(check_health, file_store, object(), timeout_s=PROBE_S),
        health_timeout_s=HANG,
    )
    await server.start()
    try:
        write = asyncio.create_task(db.execute("INSERT INTO settings_probe (id) VALUES (1)"))
        await asyncio.sleep(0)  # let the write take the connection (it then waits for the lock)
        status, body = await _get_health(server.port)
        assert not write.done()  # still waiting: the importer holds the lock
        assert (status, body["status"], body["store"]) == (200, "degraded", "busy")
        assert body["reason"].startswith("store busy: a statement has waited")
        assert "store.busy_timeout_s = 30 s" in body["reason"]

        await _release(importer)
        assert await write == 1  # the bot's write went through once the lock was free
        status, body = await _get_health(server.port)
        assert (status, body["status"], body["store"]) == (200, "ok", "up")
        assert await db.fetchall("SELECT id FROM settings_probe ORDER BY id") == [(1,), (100,)]
    finally:
        if importer.returncode is None:
            importer.kill()
            await importer.wait()
        await server.stop()


async def test_a_store_whose_file_is_gone_fails(file_store: Store, tmp_path: Path) -> None:
    assert (await check_health(file_store, object(), timeout_s=PROBE_S))["status"] == "ok"
    # The open connection still answers SELECT 1 from the deleted file; nothing it writes survives.
    for name in ("guildhall.db", "guildhall.db-wal", "guildhall.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    body = await check_health(file_store, object(), timeout_s=PROBE_S)
    assert (body["status"], body["store"]) == ("fail", "down")
    assert body["reason"].startswith("store unreachable: cannot read its file (OperationalError: unable to open")


async def test_a_store_whose_file_is_not_a_database_fails(file_store: Store, tmp_path: Path) -> None:
    for name in ("guildhall.db-wal", "guildhall.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    (tmp_path / "guildhall.db").write_bytes(b"this is not a database" * 100)
    body = await check_health(file_store, object(), timeout_s=PROBE_S)
    assert (body["status"], body["store"]) == ("fail", "down")
    assert "DatabaseError: file is not a database" in body["reason"]


async def test_a_closed_file_store_fails(tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'guildhall.db'}")
    await store.close()
    body = await check_health(store, object(), timeout_s=PROBE_S)
    assert body == {"status": "fail", "reason": "store unreachable", "store": "down", "bus": "memory"}


async def test_an_in_memory_store_has_no_file_to_tell_busy_from_broken() -> None:
    # No other process can hold its lock: a connection that does not answer is a failure, as before.
    store = await open_store("sqlite://:memory:")
    release = asyncio.Event()

    async def hold_the_connection() -> None:
        async with store.db.transaction():
            await release.wait()

    holder = asyncio.create_task(hold_the_connection())
    await asyncio.sleep(0)
    try:
        body = await check_health(store, object(), timeout_s=PROBE_S)
        assert (body["status"], body["store"], body["reason"]) == ("fail", "down", "store unreachable")
    finally:
        release.set()
        await holder
        await store.close()


async def test_a_wedged_connection_is_down_but_a_long_maintenance_transaction_is_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Busy is only for what a lock wait or maintenance explains: a transaction whose holder waits
    on something else past busy_timeout_s (+ a margin) has wedged the store's one connection, and a
    liveness probe must see that as down, or the process is never restarted."""
    import bot.metrics

    monkeypatch.setattr(bot.metrics, "WEDGED_MARGIN_S", 0.1)
    store = await open_store(f"sqlite:///{tmp_path / 'guildhall.db'}", busy_timeout_s=0.1)
    try:
        for maintenance, expected in ((False, "fail"), (True, "degraded")):
            held, release = asyncio.Event(), asyncio.Event()

            async def hold(timeout_s: float | None, held: asyncio.Event, release: asyncio.Event) -> None:
                async with store.db.transaction(timeout_s=timeout_s) as tx:
                    await tx.execute("SELECT 1")
                    held.set()
                    await release.wait()  # e.g. a publish on a full bus, inside the transaction

            holder = asyncio.create_task(hold(3600.0 if maintenance else None, held, release))
            await held.wait()
            await asyncio.sleep(0.3)  # past busy_timeout_s + the margin
            state = await check_health(store, None, timeout_s=PROBE_S)
            release.set()
            await holder
            assert state["status"] == expected, state
        assert (await check_health(store, None, timeout_s=PROBE_S))["status"] == "ok"
    finally:
        await store.close()


async def test_a_long_transaction_that_keeps_running_statements_is_busy_not_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big batch runs statements back to back for longer than busy_timeout_s + the margin: that
    is progress, and a restart would roll it back (found by review: health judged the transaction's
    whole age and called it down whenever a probe fell between two statements)."""
    import bot.metrics

    monkeypatch.setattr(bot.metrics, "WEDGED_MARGIN_S", 0.1)
    store = await open_store(f"sqlite:///{tmp_path / 'guildhall.db'}", busy_timeout_s=0.1)
    try:
        started = asyncio.Event()

        async def big_batch() -> None:
            async with store.db.transaction() as tx:
                started.set()
                for _ in range(80):  # about 0.8 s, far past 0.1 + 0.1
                    await tx.execute("SELECT 1")
                    await asyncio.sleep(0.01)

        batch = asyncio.create_task(big_batch())
        await started.wait()
        await asyncio.sleep(0.4)
        states = [(await check_health(store, None, timeout_s=0.1))["status"] for _ in range(2)]
        await batch
        assert "fail" not in states, states
    finally:
        await store.close()
