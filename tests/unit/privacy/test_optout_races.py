"""A Discord member's opt-out racing the privacy gate: a gateway process that has not reloaded the
opt-outs, a first event still on its way to the worker, an ``/optin`` landing between the gate's read
and its copy. Each ordering is forced, not left to the scheduler."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.app import GuildhallApp, build_app
from bot.brain import Services
from bot.clock import FakeClock
from bot.config import Settings
from bot.events import ChannelRef, ChannelSeen, CommandReply, Event, Platform, UserRef
from bot.privacy.optout import OPT_OUT_LOCK_CLASS, DiscordOptOuts, clear_carried_opt_outs, member_rows_sql
from bot.store import Store, UserRow, open_store
from bot.testing import FakeAdapter, HashEmbedder, ScriptedLLM, channel, command, make_message, user
from bot.testing.builders import BASE_TIME
from tests.store_backends import fresh_database

ACME, BETA = "900000000000000001", "900000000000000002"


def alice(ws: str) -> UserRef:
    return user("alice", platform=Platform.DISCORD, workspace=ws)


def chan(ws: str) -> ChannelRef:
    return channel("general", platform=Platform.DISCORD, workspace=ws)


async def rollup(app: GuildhallApp, ws: str) -> int:
    """alice's messages the activity brain counted in ``ws``."""
    rows = await app.store.db.fetchall(
        "SELECT COALESCE(SUM(messages), 0) FROM activity_rollup WHERE workspace_id = ? AND user_id = 'alice'", (ws,)
    )
    return int(rows[0][0])


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    """One database two processes open (each with a store of its own): a SQLite file, or a
    throwaway PostgreSQL database with ``GUILDHALL_TEST_STORE=postgresql``."""
    backend = "postgresql" if os.environ.get("GUILDHALL_TEST_STORE") == "postgresql" else "sqlite"
    async with fresh_database(backend, tmp_path) as url:
        yield url


class Transport:
    """What Redis Streams does between a gateway and a worker: what the gateway's gate lets through
    reaches the worker's bus, behind the worker's own gate (a worker reads it from Redis). While
    :attr:`holding`, events wait on the way (a lagging worker) until :meth:`release`."""

    def __init__(self, worker: GuildhallApp) -> None:
        self._worker_bus: Any = worker.bus.inner  # type: ignore[attr-defined]
        self.holding = False
        self._held: list[Event] = []

    async def carry(self, event: Event) -> None:
        if self.holding:
            self._held.append(event)
        else:
            await self._worker_bus.publish(event)

    async def release(self) -> None:
        self.holding = False
        held, self._held = self._held, []
        for event in held:
            await self._worker_bus.publish(event)


@dataclass
class Deployment:
    gateway: GuildhallApp
    worker: GuildhallApp
    platform: FakeAdapter  # the gateway's connection: members' events come in here
    replies: FakeAdapter  # what the worker answers (Redis would carry it back to the gateway)
    transport: Transport

    async def settle(self) -> None:
        await self.gateway.bus.drain()
        await self.worker.bus.drain()

    async def inject(self, *events: Event) -> None:
        for event in events:
            await self.platform.inject(event)
        await self.settle()


@pytest.fixture
async def deployment(settings: Settings, database_url: str) -> AsyncIterator[Deployment]:
    """A gateway process and a worker process (activity brain) on one database, both started
    before anyone opted out: the gateway's opt-out list is what it loaded then."""
    stores: list[Store] = [await open_store(database_url), await open_store(database_url)]
    services = Services()
    services.register("embedder", HashEmbedder())
    services.register("llm", ScriptedLLM())
    worker = await build_app(settings, store=stores[0], brains=["activity"], clock=FakeClock(), services=services)
    gateway = await build_app(settings, store=stores[1], role="gateway", clock=FakeClock())
    transport = Transport(worker)
    gateway.bus.subscribe(Event, transport.carry, name="redis")
    platform, replies = FakeAdapter(), FakeAdapter()
    gateway.add_adapter(platform)
    worker.add_adapter(replies)
    await worker.start()
    await gateway.start()
    try:
        yield Deployment(gateway, worker, platform, replies, transport)
    finally:
        await gateway.stop()
        await worker.stop()


def seen(*workspaces: str) -> list[Event]:
    return [ChannelSeen(chan(ws), ts=BASE_TIME, workspace_name=ws) for ws in workspaces]


async def opt_out_in_acme(d: Deployment) -> None:
    await d.inject(*seen(ACME), make_message("alice posts in acme", author=alice(ACME), chan=chan(ACME)))
    await d.inject(command("optout", author=alice(ACME), chan=chan(ACME)))
    ack = d.replies.of_type(CommandReply)[-1]
    assert "opted out" in ack.text  # type: ignore[attr-defined]


async def test_an_opt_out_holds_at_once_in_a_server_met_later_through_another_process(deployment: Deployment) -> None:
    d = deployment
    await opt_out_in_acme(d)
    # Well within the minute before the gateway reads the opt-outs again, alice posts in a server
    # she never acted in before.
    await d.inject(*seen(BETA), make_message("alice's first words in beta", author=alice(BETA), chan=chan(BETA)))
    assert await d.worker.store.is_opted_out("discord", BETA, "alice")
    assert await rollup(d.worker, BETA) == 0
    assert await rollup(d.worker, ACME) == 1


async def test_an_opt_out_holds_where_the_first_event_was_still_on_its_way(deployment: Deployment) -> None:
    d = deployment
    await d.inject(*seen(ACME, BETA), make_message("alice posts in acme", author=alice(ACME), chan=chan(ACME)))
    # The gateway lets alice's first Beta message through; the worker has not stored it yet when
    # it handles her /optout, so nothing in the store says she is a member there.
    d.transport.holding = True
    await d.platform.inject(make_message("alice's first words in beta", author=alice(BETA), chan=chan(BETA)))
    await d.settle()
    d.transport.holding = False
    await d.inject(command("optout", author=alice(ACME), chan=chan(ACME)))
    assert "opted out" in d.replies.of_type(CommandReply)[-1].text  # type: ignore[attr-defined]
    await d.inject(make_message("alice's second words in beta", author=alice(BETA), chan=chan(BETA)))
    assert await d.worker.store.is_opted_out("discord", BETA, "alice")
    await d.transport.release()
    await d.settle()
    assert await rollup(d.worker, BETA) == 0


class PauseAfterSettingsRead:
    """The store's database, pausing once, right after the first read of ``member_settings`` made
    after :meth:`arm` (inside a transaction only, with ``in_transaction``), until :meth:`resume`:
    what the event loop may do to a gate between a read it decides on and its write."""

    def __init__(self, db: Any) -> None:
        self._db = db
        self._armed: bool | None = None  # None: disarmed; else whether to pause inside a transaction only
        self.paused = asyncio.Event()
        self._resume = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)

    def arm(self, *, in_transaction: bool = False) -> None:
        self._armed = in_transaction

    def resume(self) -> None:
        self._resume.set()

    async def after_read(self, sql: str, *, in_transaction: bool) -> None:
        if self._armed is None or "FROM member_settings" not in sql or (self._armed and not in_transaction):
            return
        self._armed = None
        self.paused.set()
        await self._resume.wait()

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        rows: list[Any] = await self._db.fetchall(sql, params)
        await self.after_read(sql, in_transaction=False)
        return rows

    @asynccontextmanager
    async def transaction(self, **kwargs: Any) -> AsyncIterator[Any]:
        async with self._db.transaction(**kwargs) as tx:
            yield _PausingTx(tx, self)


class _PausingTx:
    def __init__(self, tx: Any, db: PauseAfterSettingsRead) -> None:
        self._tx = tx
        self._db = db

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        rows: list[Any] = await self._tx.fetchall(sql, params)
        await self._db.after_read(sql, in_transaction=True)
        return rows


async def test_an_opt_out_holds_where_the_member_was_stored_during_its_look_up(deployment: Deployment) -> None:
    d = deployment
    await d.inject(*seen(ACME, BETA), make_message("alice posts in acme", author=alice(ACME), chan=chan(ACME)))
    db = PauseAfterSettingsRead(d.worker.store.db)
    d.worker.store.db = db  # type: ignore[assignment]
    db.arm()
    # The worker handling alice's /optout has looked up the servers it knows her in (Acme) ...
    await d.platform.inject(command("optout", author=alice(ACME), chan=chan(ACME)))
    await d.gateway.bus.drain()
    await db.paused.wait()
    # ... when her first Beta message goes through the gateway and is stored (the worker's
    # recorder, or another worker's), and then her second one.
    d.transport.holding = True
    await d.platform.inject(make_message("alice's first words in beta", author=alice(BETA), chan=chan(BETA)))
    await d.gateway.bus.drain()
    await d.worker.store.upsert_users([UserRow("discord", BETA, "alice", "alice")])
    await d.platform.inject(make_message("alice's second words in beta", author=alice(BETA), chan=chan(BETA)))
    await d.gateway.bus.drain()
    db.resume()
    await d.settle()
    assert "opted out" in d.replies.of_type(CommandReply)[-1].text  # type: ignore[attr-defined]
    await d.transport.release()
    await d.inject(make_message("alice's third words in beta", author=alice(BETA), chan=chan(BETA)))
    assert await d.worker.store.is_opted_out("discord", BETA, "alice")
    assert await rollup(d.worker, BETA) == 0


async def test_optin_between_the_gates_read_and_its_copy_leaves_no_opt_out(make_app) -> None:
    app, adapter = await make_app(brains=["activity"])
    beta_first = make_message("alice's first words in beta", author=alice(BETA), chan=chan(BETA))
    await adapter.inject(ChannelSeen(chan(ACME), ts=BASE_TIME))
    await adapter.inject(ChannelSeen(chan(BETA), ts=BASE_TIME))
    await adapter.inject(make_message("alice posts in acme", author=alice(ACME), chan=chan(ACME)))
    await adapter.inject(command("optout", author=alice(ACME), chan=chan(ACME)))
    await app.bus.drain()
    db = PauseAfterSettingsRead(app.store.db)
    app.store.db = db  # type: ignore[assignment]
    db.arm()
    # The gate reads alice's opt-outs for her first Beta message (Acme: opted out) ...
    first = asyncio.create_task(adapter.inject(beta_first))
    await db.paused.wait()
    # ... and /optin is handled and acknowledged before the gate goes on.
    await adapter.inject(command("optin", author=alice(ACME), chan=chan(ACME)))
    await app.bus.drain()
    assert "Welcome back" in adapter.of_type(CommandReply)[-1].text  # type: ignore[attr-defined]
    db.resume()
    await first
    await app.bus.drain()
    assert not await app.store.is_opted_out("discord", BETA, "alice")
    assert not await app.store.is_opted_out("discord", ACME, "alice")
    assert await rollup(app, BETA) == 1


async def _waiting_for_an_opt_out_lock(store: Store) -> bool:
    rows = await store.db.fetchall(
        "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = ? "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        (OPT_OUT_LOCK_CLASS,),
    )
    return bool(rows[0][0])


async def test_optin_waits_for_a_carry_over_it_would_miss(database_url: str) -> None:
    """The carry-over's own read and write: an /optin whose clearing ran between them would miss
    the copy. On PostgreSQL the member's advisory lock makes it wait (SQLite's BEGIN IMMEDIATE takes
    the database's write lock, so no other write can run there at all)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's lock; on SQLite every write transaction holds the database's write lock")
    gateway_store, worker_store = await open_store(database_url), await open_store(database_url)
    db = PauseAfterSettingsRead(gateway_store.db)
    gateway_store.db = db  # type: ignore[assignment]
    try:
        await worker_store.set_member_setting("discord", ACME, "alice", "opted_out", True)
        gate = DiscordOptOuts()
        await gate.load(gateway_store)
        db.arm(in_transaction=True)
        # The gate has read, under the lock, that alice is opted out in Acme and not set in Beta ...
        carrying = asyncio.create_task(gate.follow([alice(BETA)]))
        await db.paused.wait()
        # ... when /optin (in a worker, which found no Beta to clear) clears Acme and then the rest.
        await worker_store.set_member_setting("discord", ACME, "alice", "opted_out", False)
        clearing = asyncio.create_task(clear_carried_opt_outs(worker_store, alice(ACME)))
        while not clearing.done() and not await _waiting_for_an_opt_out_lock(worker_store):
            await asyncio.wait({clearing}, timeout=0.01)
        assert not clearing.done()  # it waits for the carry-over to finish
        db.resume()
        await carrying
        assert await clearing == [BETA]
        assert not await worker_store.is_opted_out("discord", BETA, "alice")
    finally:
        db.resume()  # a failed check leaves the carry-over paused
        await gateway_store.close()
        await worker_store.close()


async def test_the_gates_read_searches_indexes(make_app) -> None:
    """A member's first event in a server costs index searches, not a read of every member's rows."""
    app, _ = await make_app()
    db = app.store.db
    sql, params = member_rows_sql(2), ["discord", BETA, "alice", "bob", "discord", "alice", "bob"]
    if db.dialect == "postgresql":
        async with db.transaction() as tx:
            await tx.execute("SET LOCAL enable_seqscan = off")  # an empty table is cheapest read whole
            text = "\n".join(str(r[0]) for r in await tx.fetchall(f"EXPLAIN {sql}", params))
        assert "Seq Scan" not in text, text
        assert "member_settings_member" in text and "users_pkey" in text, text
    else:
        lines = [str(r[3]) for r in await db.fetchall(f"EXPLAIN QUERY PLAN {sql}", params)]
        text = "\n".join(lines)
        assert not any(line.startswith("SCAN") for line in lines), text
        assert "INDEX member_settings_member" in text, text
