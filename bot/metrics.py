"""Health and Prometheus metrics on one small aiohttp server (``metrics_port`` setting).

``/healthz`` answers 200 with the process role and bus state; ``/metrics`` exposes Prometheus text:
events in/out per type, handler latency, queue lag, LLM latency and tokens/s (observed by the LLM
backends through :data:`LLM_LATENCY` / :data:`LLM_TOKENS`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

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


class MetricsServer:
    """Serves ``/healthz`` and ``/metrics``."""

    def __init__(
        self, port: int, *, role: str = "all", host: str = "0.0.0.0", health: Callable[[], dict[str, Any]] | None = None
    ) -> None:
        self.port = port
        self._host = host
        self._role = role
        self._health = health
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
            body.update(self._health())
        return web.json_response(body)

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})
