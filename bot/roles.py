"""Scale-out process roles: ``gateway`` (platform connections) and ``worker`` (recorder + brains).

Both talk only through the Redis Streams bus: a gateway publishes inbound events and performs the
outbound actions workers publish; workers consume in consumer groups. Any number of each can run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from bot.app import GuildhallApp, build_app
from bot.config import Settings
from bot.runtime import restore_defaults, tune_for_serving

log = logging.getLogger(__name__)


class RoleError(Exception):
    """The role cannot run with this configuration; ``str()`` says what to change."""


def check_role(settings: Settings, role: str) -> None:
    """Fail fast on configurations a role cannot work with."""
    if role == "all":
        return
    if settings.bus.kind != "redis":
        raise RoleError(f"--role {role} needs the Redis bus (GUILDHALL_BUS__KIND=redis): processes share nothing else")
    if settings.store.url.startswith("sqlite://"):
        log.warning("--role %s with SQLite: fine on one machine, use PostgreSQL across machines", role)
    if role == "worker" and settings.vectors.kind != "http":
        # Embedded Chroma lives in this process's data_dir: each worker would index only the events
        # it happened to consume and answer from that part of the history.
        log.warning(
            "--role worker with embedded Chroma: each worker keeps its own partial index; "
            "share a Chroma server (GUILDHALL_VECTORS__KIND=http) when running more than one worker"
        )
    if role == "gateway" and not settings.platforms:
        raise RoleError(
            "a gateway holds platform connections: set DISCORD_TOKEN and/or SLACK_BOT_TOKEN "
            "(or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET for Slack OAuth installs)"
        )


async def build_role(
    settings: Settings, role: str, adapter_factory: Callable[[str, Settings, GuildhallApp], Any] | None = None
) -> GuildhallApp:
    """The app of one process: gateways get the platform adapters, workers the brains."""
    check_role(settings, role)
    app = await build_app(settings, role=role)
    if role == "gateway" and adapter_factory is not None:
        try:
            for platform in settings.platforms:
                app.add_adapter(adapter_factory(platform, settings, app))
        except BaseException:
            await app.store.close()  # an open SQLite store would keep the process from exiting
            raise
    return app


async def run_forever(app: GuildhallApp) -> None:
    """Start the app and run until cancelled (Ctrl-C / SIGTERM); a failed start still stops what
    had started (the store, the bus) before the error propagates."""
    try:
        await app.start()
        tune_for_serving()
        log.info("guildhall %s running; Ctrl-C stops", app.role)
        await asyncio.Event().wait()
    finally:
        await app.shutdown()  # a second SIGTERM must not cut the drain and the brains' teardown short
        restore_defaults()
