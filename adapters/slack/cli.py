"""``guildhall import slack`` (backfill) and ``guildhall slack manifest|check``."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import aiohttp
import typer
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.backfill import BackfillReport, ChannelProgress, SlackBackfill
from adapters.slack.identity import fetch_identity
from bot.bus_factory import create_bus
from bot.cli_support import emit, run, settings_or_exit, setup_logging
from bot.config import Settings
from bot.recorder import Recorder
from bot.store import open_configured_store

log = logging.getLogger(__name__)

MANIFEST = Path(__file__).with_name("manifest.yaml")
# History methods are heavily rate limited for some apps (Tier 3, or 1/min for unlisted
# distributed apps): a backfill waits out many 429s rather than giving up after three.
BACKFILL_RATE_LIMIT_RETRIES = 30


def backfill_client(settings: Settings, token: str) -> AsyncWebClient:
    """A Web API client for long history reads."""
    return AsyncWebClient(
        token=token,
        base_url=settings.slack.api_base_url or AsyncWebClient.BASE_URL,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=BACKFILL_RATE_LIMIT_RETRIES),
        ],
    )


async def run_backfill(
    settings: Settings,
    *,
    channels: list[str],
    all_channels: bool,
    include_dms: bool = False,
    since_days: float | None = None,
    progress: Any = None,
) -> BackfillReport:
    """Backfill through the configured bus into the store.

    The events take the recorder's path, exactly like live traffic; ``guildhall index`` then
    builds the retrieval index from the store.
    """
    if settings.slack.bot_token is None:
        raise ValueError("backfill needs a bot token: set SLACK_BOT_TOKEN for the workspace to import")
    store = await open_configured_store(settings.store)
    # The configured bus, behind the privacy gate: imported text is redacted like live text. With
    # Redis, the running workers' recorder stores the events; in-process, this one does.
    bus = create_bus(settings)
    if settings.bus.kind == "memory":
        Recorder(store).attach(bus)
    await bus.start()
    try:
        client = backfill_client(settings, settings.slack.bot_token.get_secret_value())
        identity = await fetch_identity(client)
        if not identity.team_id:
            raise ValueError("auth.test failed: check SLACK_BOT_TOKEN (see the log for Slack's error)")
        oldest = datetime.now(UTC) - timedelta(days=since_days) if since_days else None
        backfill = SlackBackfill(client, bus.publish, identity, oldest=oldest, progress=progress)
        targets: list[Any] = list(channels)
        if all_channels:
            targets = list(await backfill.list_channels(include_dms=include_dms))
        result = await backfill.run(targets)
        if settings.bus.kind == "memory":
            # Every event stored before the summary (close() gives a slow store at most its drain deadline;
            # on Redis the events are in the streams, or spilled, once published).
            await bus.drain()
        return result
    finally:
        await bus.close()
        await store.close()


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add the Slack commands to the ``guildhall`` CLI."""

    @groups["import"].command("slack")
    def import_slack(
        channel: Annotated[list[str] | None, typer.Option("--channel", help="Channel id (C…/G…); repeatable")] = None,
        all_channels: Annotated[bool, typer.Option("--all", help="Every channel the bot can see")] = False,
        include_dms: Annotated[bool, typer.Option("--include-dms", help="With --all: DMs and group DMs too")] = False,
        since_days: Annotated[float | None, typer.Option(help="Only the last N days")] = None,
        config: Annotated[str | None, typer.Option(help="Path to guildhall.toml")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    ) -> None:
        """Backfill Slack history (conversations.history + replies) into the store."""
        if not channel and not all_channels:
            typer.echo("give --channel C… (repeatable) or --all", err=True)
            raise typer.Exit(2)
        setup_logging("WARNING")  # warnings on this stderr; discord.py's and Slack's chatter stays out
        settings = settings_or_exit(config)

        def show(p: ChannelProgress) -> None:
            if not as_json:
                name = f"#{p.name}" if p.name else p.channel_id
                typer.echo(f"{name}: {p.messages} messages, {p.replies} replies", err=True)

        try:
            report = run(
                lambda: run_backfill(
                    settings,
                    channels=list(channel or []),
                    all_channels=all_channels,
                    include_dms=include_dms,
                    since_days=since_days,
                    progress=show,
                )
            )
        except ValueError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from exc
        # One line, not a traceback: offline, a refused token, Slack down. TimeoutError: aiohttp's
        # timeouts are not ClientErrors.
        except SlackApiError as exc:
            typer.echo(f"slack: import failed: {exc.response.get('error') or exc}", err=True)
            raise typer.Exit(1) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            typer.echo(f"slack: import failed: cannot reach the Slack Web API ({exc or type(exc).__name__})", err=True)
            raise typer.Exit(1) from exc
        summary = report.as_dict()
        emit(
            summary,
            as_json,
            f"imported {summary['messages']} messages from {summary['channels']} channels"
            + (f"; failed: {', '.join(summary['failed_channels'])}" if summary["failed_channels"] else ""),
        )
        if summary["failed_channels"]:
            raise typer.Exit(1)

    @groups["slack"].command("manifest")
    def manifest() -> None:
        """Print the Slack app manifest (paste it at api.slack.com/apps → Create New App → From a manifest)."""
        typer.echo(MANIFEST.read_text(encoding="utf-8"))

    @groups["slack"].command("check")
    def check(
        config: Annotated[str | None, typer.Option(help="Path to guildhall.toml")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    ) -> None:
        """Verify the bot token with auth.test."""
        settings = settings_or_exit(config)
        if settings.slack.bot_token is None:
            emit({"ok": False, "error": "no bot token"}, as_json, "no SLACK_BOT_TOKEN set")
            raise typer.Exit(2)
        token = settings.slack.bot_token.get_secret_value()
        identity = run(lambda: fetch_identity(backfill_client(settings, token)))
        ok = bool(identity.bot_user_id)
        data = {"ok": ok, "team_id": identity.team_id, "bot_user_id": identity.bot_user_id, "url": identity.team_url}
        emit(data, as_json, f"ok: team {identity.team_id} as <@{identity.bot_user_id}>" if ok else "auth.test failed")
        if not ok:
            raise typer.Exit(1)
