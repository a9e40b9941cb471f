"""Health and Prometheus metrics on one small aiohttp server (``metrics_port`` setting).

``/healthz`` is what the Kubernetes readinessProbe and the Docker HEALTHCHECK ask (deploy/). It answers
JSON with the process role, ``status`` and the state of what the process needs (:func:`check_health`):

* **503, ``"status": "fail"``** when the process cannot do its work: the store does not answer a
  ``SELECT 1`` in time (on SQLite: unless it is busy, below), or its SQLite file is gone or
  unreadable; a worker (or an all-in-one process) on a Redis bus cannot reach Redis, so it
  reads nothing; the local buffer of a Redis bus is full, so publishers are waiting and platform
  events stop being taken; the in-process bus has a subscription with no live worker left, or a
  publisher has waited longer than ``publish_stall_s`` (60 s) for room in a full queue (a wedged
  handler). ``reason`` says why in one line.
* **200, ``"status": "degraded"``** when it works in a reduced way: a gateway buffering events while
  Redis is unreachable (they are sent, in order, once it is back; spilled to disk at shutdown); a
  SQLite store busy (``"store": "busy"``): its one connection is taken, most often by a write waiting
  up to ``store.busy_timeout_s`` for another process's write lock (``guildhall import`` beside the
  bot), while the file itself still reads fine on a connection of the probe's own. The write goes
  through once the lock is released; taking the process out of service would not help it.
* **200, ``"status": "ok"``** otherwise.

The Chroma server is deliberately not probed: when it is down, answers fall back to lexical search,
so taking the process out of service would cost more than it saves. Every probe is bounded
(:data:`HEALTH_TIMEOUT_S`, below the 3 s the Docker HEALTHCHECK waits) and a check that raises or
hangs is reported as a failure: the handler itself never hangs and never raises.

``/metrics`` exposes Prometheus text: events in/out per type, handler latency, queue lag (events
waiting per subscription of the in-process bus, read at each scrape), LLM latency and tokens/s
(observed by the LLM backends through :data:`LLM_LATENCY` / :data:`LLM_TOKENS`).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.store.db import SQLiteDatabase

if TYPE_CHECKING:
    from bot.store import Store

log = logging.getLogger(__name__)

# Each probe's limit (store and Redis run concurrently); the whole check gets a little more. Both stay
# below the 3 s the Docker HEALTHCHECK waits for an answer.
HEALTH_TIMEOUT_S = 2.0
HealthCheck = Callable[[], "Awaitable[dict[str, Any]] | dict[str, Any]"]

REGISTRY = CollectorRegistry()
EVENTS_IN = Counter("guildhall_events_in_total", "Inbound events published", ["type"], registry=REGISTRY)
EVENTS_OUT = Counter(
    "guildhall_actions_out_total", "Outbound actions performed", ["type", "platform"], registry=REGISTRY
)
HANDLER_LATENCY = Histogram(
    "guildhall_handler_seconds",
    "Handler latency",
    ["subscription"],
    registry=REGISTRY,
    buckets=(0.001, 0.005, 0.02, 0.1, 0.5, 2, 10, 60),
)
QUEUE_LAG = Gauge("guildhall_queue_lag_events", "Events waiting per subscription", ["subscription"], registry=REGISTRY)
LLM_LATENCY = Histogram(
    "guildhall_llm_seconds",
    "LLM request latency",
    ["backend"],
    registry=REGISTRY,
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120),
)
LLM_TOKENS = Counter("guildhall_llm_tokens_total", "Generated tokens", ["backend"], registry=REGISTRY)


async def count_event(event: Any) -> None:
    """Bus subscriber counting every event (inbound facts and outbound actions)."""
    from bot.events import Action

    if isinstance(event, Action):
        EVENTS_OUT.labels(type(event).__name__, event.platform.value).inc()
    else:
        EVENTS_IN.labels(type(event).__name__).inc()


def observe_queue_lag(bus: Any) -> None:
    """Set :data:`QUEUE_LAG` from the bus's ``queue_sizes()`` (the in-process bus has it; a bus
    without it is left out). Called at each ``/metrics`` scrape: a dict of queue sizes, no work on
    the publish path."""
    sizes = getattr(bus, "queue_sizes", None)
    if not callable(sizes):
        return
    for subscription, waiting in sizes().items():
        QUEUE_LAG.labels(subscription).set(waiting)


def timed(subscription: str, handler: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Awaitable[None]]:
    """Wrap a bus handler so its latency is observed."""
    histogram = HANDLER_LATENCY.labels(subscription)

    async def wrapper(event: Any) -> None:
        start = time.perf_counter()
        try:
            await handler(event)
        finally:
            histogram.observe(time.perf_counter() - start)

    return wrapper


async def check_health(
    store: Store, bus: Any, *, role: str = "all", timeout_s: float = HEALTH_TIMEOUT_S
) -> dict[str, Any]:
    """Probe the store (``SELECT 1``; a SQLite file also read on its own connection) and the bus
    (Redis ``PING`` and buffer), each within ``timeout_s``.

    Returns ``{"status": "ok" | "degraded" | "fail", "store": "up" | "busy" | "down", "bus": ...,
    "reason": ...}`` as described in this module's docstring; never raises.
    """

    async def bus_state() -> dict[str, Any]:
        probe = getattr(bus, "health", None)  # both buses (behind the privacy gate) have one
        if probe is None:
            return {"bus": "memory"}
        try:
            return dict(await probe(timeout_s))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001
            if getattr(bus, "kind", None) == "memory":
                return {"bus": "memory", "failure": f"bus health check failed: {type(exc).__name__}: {exc}"}
            return {"bus": "redis", "redis": "down", "error": repr(exc)}

    (store_state, store_reason), state = await asyncio.gather(_store_state(store.db, timeout_s), bus_state())
    failures: list[str] = []
    degraded: list[str] = []
    if store_state == "down":
        failures.append(store_reason)
    elif store_state == "busy":
        degraded.append(store_reason)
    if state.get("redis") == "down":
        # A gateway keeps taking platform events into its buffer; a worker reads nothing.
        (degraded if role == "gateway" else failures).append("redis unreachable")
    if state.get("failure"):  # the in-process bus: a subscription without a worker, a wedged queue
        failures.append(str(state["failure"]))
    if state.get("buffer_full"):
        failures.append(f"redis bus buffer full ({state.get('buffered')} events): publishers are waiting")
    elif state.get("buffered") and role == "gateway" and not failures:
        degraded.append(f"{state['buffered']} events buffered for redis")
    body: dict[str, Any] = {"store": store_state, **state}
    if failures:
        body.update(status="fail", reason="; ".join(failures))
    elif degraded:
        body.update(status="degraded", reason="; ".join(degraded))
    else:
        body["status"] = "ok"
    return body


async def _store_state(db: Any, timeout_s: float) -> tuple[str, str]:
    """``("up" | "busy" | "down", reason)`` of the store's database (reason empty when up)."""
    # Only a SQLite file has a lock other processes take and a file to read beside the connection;
    # PostgreSQL (a pool) and ``:memory:`` keep the plain rule: no answer in time is a failure.
    file_db = db if isinstance(db, SQLiteDatabase) and db.path is not None else None

    async def error_of(probe: Awaitable[Any]) -> Exception | None:
        try:
            await asyncio.wait_for(probe, timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a probe reports, it does not raise
            return exc
        return None

    if file_db is None:
        select_error = await error_of(db.fetchone("SELECT 1"))
        file_error = None
    else:
        select_error, file_error = await asyncio.gather(
            error_of(db.fetchone("SELECT 1")), error_of(file_db.probe_file(timeout_s))
        )
    if file_error is not None:
        log.warning("health: cannot read the SQLite file %s: %r", file_db.path if file_db else None, file_error)
        return "down", f"store unreachable: cannot read its file ({type(file_error).__name__}: {file_error})"
    if select_error is None:
        return "up", ""
    if file_db is not None and isinstance(select_error, TimeoutError):
        # The file reads fine beside it, so the connection is taken, not broken: most often by a
        # write waiting for another process's write lock (SQLite gives up after busy_timeout_s).
        # Busy only while that is plausibly a lock wait or maintenance: beyond it the connection is
        # wedged (a transaction whose holder waits on something else, a statement that never ends),
        # and a liveness probe must see it down, or the process is never restarted.
        # A statement running long is progress (a lock wait, a big erase): busy, never down, or a
        # restart would roll it back and the redelivered event would start it again. Down is a
        # transaction whose holder has run nothing on the connection for longer than any lock wait
        # explains: it waits on something else and the store is wedged for everyone.
        running = file_db.running_s()
        idle = file_db.transaction_idle_s()
        if idle is not None and idle[0] > file_db.busy_timeout_s + WEDGED_MARGIN_S and not idle[1]:
            log.warning("health: a SQLite transaction has held the connection %.0f s without a statement", idle[0])
            return "down", f"store stuck: a transaction has held its connection {idle[0]:.0f} s without a statement"
        if running is None:
            what = "its connection is taken by queued statements"
        elif running <= file_db.busy_timeout_s:
            what = (
                f"a statement has waited {running:.0f} s, most likely for another process's write lock "
                f"(up to store.busy_timeout_s = {file_db.busy_timeout_s:g} s)"
            )
        else:
            what = f"one statement has run for {running:.0f} s (a long write: a migration, a purge, a big erase)"
        log.info("health: SQLite store busy: %s", what)
        return "busy", f"store busy: {what}"
    log.warning("health: store did not answer SELECT 1 within %g s: %r", timeout_s, select_error)
    return "down", "store unreachable"


# How far past store.busy_timeout_s a SQLite transaction may hold the connection without running a
# statement before health calls the store stuck.
WEDGED_MARGIN_S = 30.0


class MetricsServer:
    """Serves ``/healthz`` and ``/metrics``.

    Args:
        port: TCP port (0 picks a free one).
        role: the process role, reported by ``/healthz``.
        host: the address to listen on.
        health: returns (or awaits to) a dict merged into the ``/healthz`` body; ``"status": "fail"``
            in it makes the answer 503. It is given ``health_timeout_s`` seconds; one that raises or
            runs longer is answered 503 with the reason.
        health_timeout_s: the limit for ``health``.
        collect: called before each ``/metrics`` answer, to set gauges read on demand (queue lag).
    """

    def __init__(
        self,
        port: int,
        *,
        role: str = "all",
        host: str = "0.0.0.0",
        health: HealthCheck | None = None,
        health_timeout_s: float = HEALTH_TIMEOUT_S + 0.5,
        collect: Callable[[], None] | None = None,
    ) -> None:
        self.port = port
        self._host = host
        self._role = role
        self._health = health
        self._health_timeout_s = health_timeout_s
        self._collect = collect
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Start listening (port 0 picks a free port, stored back in :attr:`port`)."""
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None)
        if sockets:
            self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = {"status": "ok", "role": self._role}
        if self._health is not None:
            try:
                result = self._health()
                if inspect.isawaitable(result):
                    result = await asyncio.wait_for(result, self._health_timeout_s)
                body.update(result)
            except TimeoutError:
                body.update(status="fail", reason=f"health check did not finish within {self._health_timeout_s:g} s")
            except Exception as exc:  # a broken check is an unhealthy answer, not a 500
                log.warning("health check failed", exc_info=exc)
                body.update(status="fail", reason=f"health check failed: {type(exc).__name__}: {exc}")
        return web.json_response(body, status=503 if body.get("status") == "fail" else 200)

    async def _metrics(self, request: web.Request) -> web.Response:
        if self._collect is not None:
            try:
                self._collect()
            except Exception:  # a gauge not refreshed must not cost the other metrics
                log.warning("metrics: collecting gauges failed", exc_info=True)
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})
