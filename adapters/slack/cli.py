"""``guildhall import slack`` (backfill) and ``guildhall slack manifest|check``."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
from bot.cli_support import emit, run, settings_or_exit, setup_logging
from bot.config import Settings
from bot.importers.cli import AppImport, backfill_role, finish_import, import_through_app

if TYPE_CHECKING:
    from bot.app import GuildhallApp

log = logging.getLogger(__name__)

MANIFEST = Path(__file__).with_name("manifest.yaml")
# History methods are heavily rate limited for some apps (Tier 3, or 1/min for unlisted
# distributed apps): a backfill waits out many 429s rather than giving up after three.
BACKFILL_RATE_LIMIT_RETRIES = 30
CHECK_TIMEOUT_S = 10  # `guildhall slack check`: seconds auth.test may take before it says so


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
    index: bool = True,
) -> AppImport[BackfillReport]:
    """Backfill Slack history the way the export importers import it (:func:`import_through_app`).

    On the in-process bus the history goes through the full app: stored by its recorder, seen by
    every configured brain (leaderboards, trends, recommendations, the community brain) and, with
    ``index``, indexed for questions. On Redis it is published for the running workers, which store
    it and learn from it. Either way the privacy gate redacts it and drops the events of members
    who asked to be forgotten, as the store lists them.
    """
    if settings.slack.bot_token is None:
        raise ValueError("backfill needs a bot token: set SLACK_BOT_TOKEN for the workspace to import")
    token = settings.slack.bot_token.get_secret_value()

    async def backfill_into(app: GuildhallApp) -> BackfillReport:
        client = backfill_client(settings, token)
        identity = await fetch_identity(client)
        if not identity.team_id:
            raise ValueError("auth.test failed: check SLACK_BOT_TOKEN (see the log for Slack's error)")
        oldest = datetime.now(UTC) - timedelta(days=since_days) if since_days else None
        backfill = SlackBackfill(client, app.bus.publish, identity, oldest=oldest, progress=progress)
        targets: list[Any] = list(channels)
        if all_channels:
            targets = list(await backfill.list_channels(include_dms=include_dms))
        return await backfill.run(targets)

    return await import_through_app(settings, backfill_into, index=index, role=backfill_role(settings))


def check_client(settings: Settings, token: str, timeout_s: int) -> AsyncWebClient:
    """A Web API client for ``guildhall slack check``: one question, so a short wait (slack-sdk's
    default is 30 s) and its default retry of a dropped connection, nothing for rate limits."""
    return AsyncWebClient(
        token=token,
        base_url=settings.slack.api_base_url or AsyncWebClient.BASE_URL,
        timeout=timeout_s,
    )


def unreachable(client: AsyncWebClient, exc: BaseException, timeout_s: int) -> str:
    """What ``exc`` (a connection error or a timeout of ``client``'s call) means, in one line."""
    # Timeouts first: aiohttp's socket timeouts are ClientErrors too, and their text is empty.
    if isinstance(exc, TimeoutError):
        return f"the Slack Web API at {client.base_url} did not answer within {timeout_s} s"
    return f"cannot reach the Slack Web API at {client.base_url} ({exc or type(exc).__name__})"


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add the Slack commands to the ``guildhall`` CLI."""

    @groups["import"].command("slack")
    def import_slack(
        channel: Annotated[list[str] | None, typer.Option("--channel", help="Channel id (C…/G…); repeatable")] = None,
        all_channels: Annotated[bool, typer.Option("--all", help="Every channel the bot can see")] = False,
        include_dms: Annotated[bool, typer.Option("--include-dms", help="With --all: DMs and group DMs too")] = False,
        since_days: Annotated[float | None, typer.Option(help="Only the last N days")] = None,
        index: Annotated[bool, typer.Option("--index/--no-index", help="Rebuild the QA index afterwards")] = True,
        config: Annotated[str | None, typer.Option(help="Path to guildhall.toml")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    ) -> None:
        """Backfill Slack history (conversations.history + replies) into the store and every brain."""
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
            done = run(
                lambda: run_backfill(
                    settings,
                    channels=list(channel or []),
                    all_channels=all_channels,
                    include_dms=include_dms,
                    since_days=since_days,
                    progress=show,
                    index=index,
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
        summary = done.result.as_dict()
        finish_import(
            done,
            summary,
            lambda: (
                f"imported {summary['messages']} messages from {summary['channels']} channels"
                + (f"; failed: {', '.join(summary['failed_channels'])}" if summary["failed_channels"] else "")
            ),
            as_json=as_json,
            failed=bool(summary["failed_channels"]),
        )

    @groups["slack"].command("manifest")
    def manifest() -> None:
        """Print the Slack app manifest (paste it at api.slack.com/apps → Create New App → From a manifest)."""
        typer.echo(MANIFEST.read_text(encoding="utf-8"))

    @groups["slack"].command("check")
    def check(
        config: Annotated[str | None, typer.Option(help="Path to guildhall.toml")] = None,
        timeout: Annotated[int, typer.Option(min=1, help="Seconds to wait for Slack's answer")] = CHECK_TIMEOUT_S,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    ) -> None:
        """Verify the bot token with auth.test."""
        setup_logging("WARNING")  # Slack's refusal (with its hint) on this stderr; slack-sdk's retry chatter stays out
        settings = settings_or_exit(config)
        if settings.slack.bot_token is None:
            emit({"ok": False, "error": "no bot token"}, as_json, "no SLACK_BOT_TOKEN set")
            raise typer.Exit(2)
        token = settings.slack.bot_token.get_secret_value()
        client = check_client(settings, token, timeout)
        try:
            identity = run(lambda: fetch_identity(client))
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = unreachable(client, exc, timeout)
            if as_json:
                emit({"ok": False, "error": error}, as_json)
            else:
                typer.echo(f"slack: check failed: {error}", err=True)
            raise typer.Exit(1) from exc
        ok = bool(identity.bot_user_id)
        data = {"ok": ok, "team_id": identity.team_id, "bot_user_id": identity.bot_user_id, "url": identity.team_url}
        emit(data, as_json, f"ok: team {identity.team_id} as <@{identity.bot_user_id}>" if ok else "auth.test failed")
        if not ok:
            raise typer.Exit(1)
