"""``guildhall import discord`` (backfill) and ``guildhall discord sync-commands``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, TypeVar

import aiohttp
import discord
import typer

from adapters.discord.adapter import gateway_intents
from adapters.discord.backfill import BackfillReport, ChannelProgress, DiscordBackfill, Progress
from adapters.discord.commands import build_tree
from bot.cli_support import emit, run, settings_or_exit, setup_logging
from bot.config import Settings
from bot.importers.cli import AppImport, backfill_role, finish_import, import_through_app

if TYPE_CHECKING:
    from bot.app import GuildhallApp

log = logging.getLogger(__name__)
T = TypeVar("T")


def _token(settings: Settings) -> str:
    if settings.discord.token is None:
        typer.echo("discord: set DISCORD_TOKEN (Developer Portal -> your application -> Bot -> Token)", err=True)
        raise typer.Exit(2)
    return settings.discord.token.get_secret_value()


def parse_since(value: str | None) -> datetime | None:
    """``--since`` as an aware datetime (``2026-01-31`` or a full ISO timestamp, UTC by default)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"not a date: {value!r} (use YYYY-MM-DD)") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def run_backfill(
    settings: Settings,
    *,
    guild_id: int,
    since: datetime | None,
    client: discord.Client | None = None,
    progress: Progress | None = None,
    index: bool = True,
) -> AppImport[BackfillReport]:
    """Backfill one guild (REST only, no gateway) the way the export importers import history
    (:func:`import_through_app`): on the in-process bus through the full app, so the recorder
    stores it, every configured brain learns from it and (``index``) the QA index is rebuilt; on
    Redis published for the running workers. The privacy gate drops the events of members who asked
    to be forgotten, as the store lists them, and carries Discord opt-outs to this guild."""
    token = _token(settings)
    rest = client or discord.Client(intents=gateway_intents(privileged=False))

    async def backfill_into(app: GuildhallApp) -> BackfillReport:
        async with rest:
            await rest.login(token)
            return await DiscordBackfill(rest, app.bus.publish, since=since, progress=progress).run(guild_id)

    return await import_through_app(settings, backfill_into, index=index, role=backfill_role(settings))


async def sync_commands(settings: Settings, guild_id: int | None, *, client: discord.Client | None = None) -> list[str]:
    """Register the slash commands globally or in one guild (REST only); returns their names.

    A guild sync is visible at once; a global one can take up to an hour to reach every client.
    """
    client = client or discord.Client(intents=gateway_intents(privileged=False))
    async with client:
        await client.login(_token(settings))
        tree = build_tree(client, _never_invoked)
        guild = discord.Object(guild_id) if guild_id else None
        if guild is not None:
            tree.copy_global_to(guild=guild)
        synced = await tree.sync(guild=guild)
        return [c.name for c in synced]


def run_or_exit(what: str, coro_fn: Callable[[], Awaitable[T]]) -> T:
    """Run a REST command; a network or Discord failure is one line on stderr and exit 1, not a
    traceback (the admin needs the reason, not the stack)."""
    try:
        return run(coro_fn)
    except discord.LoginFailure as exc:
        typer.echo(f"discord: {what} failed: the token was refused ({exc}); check DISCORD_TOKEN", err=True)
    except discord.HTTPException as exc:
        typer.echo(f"discord: {what} failed: HTTP {exc.status} {exc.text or exc}".rstrip(), err=True)
    # TimeoutError: aiohttp's timeouts are not ClientErrors.
    except (aiohttp.ClientError, TimeoutError) as exc:
        typer.echo(f"discord: {what} failed: cannot reach Discord ({exc or type(exc).__name__})", err=True)
    raise typer.Exit(1)


async def _never_invoked(*_: object) -> None:  # the sync client never receives interactions
    raise RuntimeError("sync-commands does not handle interactions")


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add the Discord commands to the ``import`` and ``discord`` groups."""

    @groups["import"].command("discord")
    def import_discord(
        guild: Annotated[int, typer.Option("--guild", help="Guild (server) id to backfill")],
        since: Annotated[str | None, typer.Option("--since", help="Only messages after this date (YYYY-MM-DD)")] = None,
        index: Annotated[bool, typer.Option("--index/--no-index", help="Rebuild the QA index afterwards")] = True,
        config: Annotated[str | None, typer.Option("--config", help="TOML settings file")] = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Backfill a guild's channel and thread history into the store and every brain (same events as live traffic)."""
        setup_logging("WARNING")  # warnings on this stderr; discord.py's and Slack's chatter stays out
        settings = settings_or_exit(config)
        after = parse_since(since)

        def show(p: ChannelProgress) -> None:
            note = f" (skipped: {p.skipped})" if p.skipped else ""
            typer.echo(f"#{p.name}: {p.messages} messages{note}", err=True)

        done = run_or_exit(
            "import", lambda: run_backfill(settings, guild_id=guild, since=after, progress=show, index=index)
        )
        report = done.result
        finish_import(
            done,
            report.as_dict(),
            lambda: f"imported {report.messages} messages from {len(report.channels)} channels/threads",
            as_json=as_json,
            failed=False,
        )

    @groups["discord"].command("sync-commands")
    def sync(
        guild: Annotated[
            int | None, typer.Option("--guild", help="Sync to one guild (instant) instead of globally")
        ] = None,
        config: Annotated[str | None, typer.Option("--config", help="TOML settings file")] = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Register slash commands. Global sync can take up to an hour to reach every client."""
        setup_logging("WARNING")  # warnings on this stderr; discord.py's and Slack's chatter stays out
        settings = settings_or_exit(config)
        names = run_or_exit("sync-commands", lambda: sync_commands(settings, guild))
        where = f"guild {guild}" if guild else "globally (may take up to an hour to appear)"
        emit({"synced": names, "guild": guild}, as_json, f"synced {len(names)} commands {where}: {', '.join(names)}")
