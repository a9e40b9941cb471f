"""Assembly: settings -> store, bus, recorder, brains, command router, scheduler, adapters.

``GuildhallApp`` is what ``guildhall run`` starts and what tests build with fakes. Brains are named
in ``settings.brains`` and imported lazily so a process only loads what it runs.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any, Protocol

from bot.brain import Brain, BrainContext, Services
from bot.bus import EventBus
from bot.bus_factory import create_bus
from bot.clock import Clock, SystemClock
from bot.commands import CommandRouter
from bot.config import Settings
from bot.events import CommandInvoked, Event, Platform
from bot.metrics import MetricsServer, check_health, count_event, observe_queue_lag, timed
from bot.privacy.forgotten import ForgottenMembers, unless_forgotten
from bot.privacy.gate import RedactingBus
from bot.recorder import Recorder
from bot.scheduler import Schedule, Scheduler, StoreRunLog
from bot.store import Store, open_configured_store

log = logging.getLogger(__name__)

# Reloads the members forgotten by other processes (an import beside the bot keeps it running).
FORGOTTEN_REFRESH_JOB = "core.forgotten"

ROLES = ("all", "gateway", "worker")

BRAINS: dict[str, str] = {
    "qa": "brain.qa.brain:QABrain",
    "recommend": "brain.recommend.brain:RecommendBrain",
    "activity": "brain.activity.brain:ActivityBrain",
    "community": "brain.community.brain:CommunityBrain",
}


class Adapter(Protocol):
    """A platform connection: publishes inbound events, performs outbound actions.

    Shutdown comes in two steps (:meth:`GuildhallApp.stop`): an adapter that has a
    ``stop_receiving()`` coroutine is asked first to stop taking platform events in (close the
    gateway, the Socket Mode connection, the HTTP endpoint), the bus is drained while the adapter
    still performs the actions that answer what was in flight, and only then :meth:`stop` closes
    its connections (HTTP sessions). An adapter without ``stop_receiving`` is stopped before the
    drain, as before it existed.
    """

    platform: Platform

    def attach(self, bus: EventBus) -> None:
        """Subscribe to the outbound actions of this adapter's platform."""

    async def start(self) -> None:
        """Connect (returns once connected or serving)."""

    async def stop(self) -> None:
        """Disconnect (after the drain, when the adapter has ``stop_receiving``)."""


def load_brain_class(name: str) -> type[Brain]:
    """Import the brain class registered as ``name``."""
    module_name, _, attr = BRAINS[name].partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    if not (isinstance(cls, type) and issubclass(cls, Brain)):
        raise TypeError(f"{BRAINS[name]} is not a Brain")
    return cls


@dataclass
class GuildhallApp:
    """A running Guildhall: one store, one bus, brains, adapters."""

    settings: Settings
    store: Store
    bus: EventBus
    clock: Clock
    services: Services
    ctx: BrainContext
    router: CommandRouter
    scheduler: Scheduler
    recorder: Recorder
    brains: list[Brain] = field(default_factory=list)
    adapters: list[Any] = field(default_factory=list)
    role: str = "all"
    metrics: MetricsServer | None = None

    def brain(self, name: str) -> Brain:
        """The running brain called ``name``."""
        for b in self.brains:
            if b.name == name:
                return b
        raise KeyError(name)

    async def health(self) -> dict[str, Any]:
        """This process's health as ``/healthz`` reports it (see :func:`bot.metrics.check_health`)."""
        return await check_health(self.store, self.bus, role=self.role)

    async def start(self, *, scheduled: bool = True) -> None:
        """Set up brains, start the metrics server, the bus and the adapters, then the scheduler.

        ``scheduled=False`` leaves the scheduled jobs off but the refresh of forgotten members: an
        import builds the app to feed history through the brains, and a job it ran (a weekly board
        caught up, a help question answered) would post through no adapter, its slot still recorded
        as made; a member who runs /forget-me while it imports must still be dropped from it.
        """
        if self.settings.metrics_port is not None:
            # /healthz is the readiness probe (deploy/): it must show a dead store or Redis.
            self.metrics = MetricsServer(
                self.settings.metrics_port,
                role=self.role,
                health=self.health,
                collect=partial(observe_queue_lag, self.bus),
            )
            await self.metrics.start()
        for b in self.brains:
            await b.setup()
        await self.bus.start()
        for adapter in self.adapters:
            await adapter.start()
        # After the adapters: a run caught up on start (the weekly board missed while down) posts at
        # once, and an adapter not logged in yet (Discord) would fail that post, its slot marked done.
        await self.scheduler.start(only=None if scheduled else (FORGOTTEN_REFRESH_JOB,))

    async def stop(self) -> None:
        """Stop taking platform events, stop the scheduler, drain and close the bus, close the
        adapters' connections, tear brains down, close the store.

        The adapters stop receiving before the drain but are closed after it: the answers to the
        questions in flight are actions on the bus, and an adapter closed first (Discord's HTTP
        session) failed every one of them. An adapter without ``stop_receiving`` is stopped before
        the drain (see :class:`Adapter`).

        A step that fails is logged and the next one still runs, and the store is closed last
        whatever happened: a bus whose close raised (Redis gone, a full disk for its spill file)
        used to leave the brains without their teardown (unflushed index state) and SQLite's
        connection thread running, which kept the process from exiting after SIGTERM.
        """
        try:
            closing: list[Any] = []  # adapters still able to send: closed after the drain
            for adapter in self.adapters:
                stop_receiving = getattr(adapter, "stop_receiving", None)
                try:
                    if stop_receiving is None:
                        await adapter.stop()
                    else:
                        closing.append(adapter)
                        await stop_receiving()
                except Exception:
                    log.exception("adapter %s failed to stop", adapter)
            for part, close in (("scheduler", self.scheduler.stop), ("bus", self.bus.close)):
                try:
                    await close()
                except Exception:
                    log.exception("%s failed to stop", part)
            for adapter in closing:
                try:
                    await adapter.stop()
                except Exception:
                    log.exception("adapter %s failed to stop", adapter)
            if self.metrics is not None:
                try:
                    await self.metrics.stop()
                except Exception:
                    log.exception("metrics server failed to stop")
            for b in reversed(self.brains):
                try:
                    await b.teardown()
                except Exception:
                    log.exception("brain %s failed to tear down", b.name)
        finally:
            await self.store.close()

    async def shutdown(self) -> None:
        """:meth:`stop`, run to its end even when the caller is cancelled again meanwhile (a second
        SIGTERM, Ctrl-C during the drain): cancelled half-way, it skipped the brains' teardown (the
        QA index flush) and left the store open. Each further cancel is logged and waited out; the
        drain itself is bounded (``drain_timeout_s``), so the wait is too.
        """
        stopping = asyncio.ensure_future(self.stop())
        while True:
            try:
                await asyncio.shield(stopping)
                return
            except asyncio.CancelledError:
                if stopping.done():
                    raise
                log.warning("already stopping: waiting for in-flight handlers and the brains' teardown")

    def add_adapter(self, adapter: Any) -> None:
        """Register an adapter and route its platform's actions to it."""
        adapter.attach(self.bus)
        self.adapters.append(adapter)


async def build_app(
    settings: Settings,
    *,
    store: Store | None = None,
    bus: EventBus | None = None,
    clock: Clock | None = None,
    services: Services | None = None,
    brains: list[str] | None = None,
    extra_brains: list[type[Brain]] | None = None,
    with_core: bool = True,
    role: str = "all",
) -> GuildhallApp:
    """Create (but do not start) an app from settings; every part can be replaced for tests.

    ``role`` splits Guildhall across processes: ``gateway`` holds platform connections only (adapters
    publish inbound events and perform outbound actions), ``worker`` runs the recorder, the command
    router and the brains, ``all`` runs everything in one process (the default).
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if store is not None:
        return await _build_app(settings, store, bus, clock, services, brains, extra_brains, with_core, role)
    # Opened here, so closed here when building fails or is cancelled (SIGTERM during start-up):
    # an open SQLite store keeps a non-daemon thread alive, and the process would never exit.
    store = await open_configured_store(settings.store)
    try:
        return await _build_app(settings, store, bus, clock, services, brains, extra_brains, with_core, role)
    except BaseException:
        await store.close()
        raise


async def _build_app(
    settings: Settings,
    store: Store,
    bus: EventBus | None,
    clock: Clock | None,
    services: Services | None,
    brains: list[str] | None,
    extra_brains: list[type[Brain]] | None,
    with_core: bool,
    role: str,
) -> GuildhallApp:
    bus = bus or create_bus(settings)
    clock = clock or SystemClock()
    services = services or Services()
    forgotten = ForgottenMembers()
    await forgotten.load(store)
    services.register("forgotten", forgotten)
    if isinstance(bus, RedactingBus):
        bus.forgotten = forgotten
    ctx = BrainContext(bus=bus, store=store, settings=settings, clock=clock, services=services)
    router = CommandRouter(ctx)
    # Several worker processes share one Redis bus: each one_worker run is claimed there.
    # The run log in the store lets catch-up jobs (the weekly board, retention) make a run missed
    # while no process was up.
    scheduler = Scheduler(
        clock,
        settings.tz,
        claim=getattr(bus, "claim_once", None),
        runs=StoreRunLog(store.db),
        release=getattr(bus, "release_claim", None),
    )
    recorder = Recorder(store, forgotten=forgotten)

    async def refresh_forgotten() -> None:
        # A member another process forgot (`guildhall privacy forget`, another worker): erase again
        # here, so what this process holds in memory (the lexical index, queued help questions) and
        # anything it stored before it knew goes too. The erasure is idempotent.
        for user in await forgotten.load(store):
            core = next((b for b in app.brains if b.name == "core"), None)
            if core is not None:
                await core.forget(user, repeat=True)  # type: ignore[attr-defined]

    scheduler.add(FORGOTTEN_REFRESH_JOB, Schedule(interval=timedelta(minutes=1)), refresh_forgotten)
    app = GuildhallApp(settings, store, bus, clock, services, ctx, router, scheduler, recorder, role=role)
    if role == "gateway":
        return app
    recorder.attach(bus)

    classes: list[type[Brain]] = []
    if with_core:
        from bot.core_brain import CoreBrain

        classes.append(CoreBrain)
    for name in settings.brains if brains is None else brains:
        classes.append(load_brain_class(name))
    classes.extend(extra_brains or [])
    for cls in classes:
        b = cls(ctx)
        bind = getattr(b, "bind_app", None)
        if bind is not None:  # the core brain lists commands and reaches every brain for /forget-me
            bind(app)
        app.brains.append(b)
        for event_types, concurrency, handler in b.listeners():
            for i, event_type in enumerate(event_types):
                name = f"{b.name}.{getattr(handler, '__name__', 'handler')}"
                bus.subscribe(
                    event_type,
                    timed(name, unless_forgotten(forgotten, handler)),
                    name=name if i == 0 else f"{name}:{event_type.__name__}",
                    concurrency=concurrency,
                )
        for job_name, schedule, job in b.schedules(settings):
            scheduler.add(job_name, schedule, job)
        for spec, command_handler in b.commands():
            router.register(spec, command_handler)
    bus.subscribe(CommandInvoked, timed("core.commands", router.handle), name="core.commands", concurrency=8)
    if settings.metrics_port is not None:
        bus.subscribe(Event, count_event, name="core.metrics")
    await store.migrate()  # brains may have registered tables on import
    return app
