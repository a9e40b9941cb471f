"""``guildhall leaderboard``, ``guildhall trends`` and ``guildhall report`` (read the store)."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli_support import emit, run, settings_or_exit
from bot.config import Settings
from bot.events import utcnow
from bot.store import Store, open_configured_store
from brain.activity import schema as _schema  # noqa: F401  (registers the activity tables)

SINCE_DEPRECATED = "warning: trends --since is deprecated (its value is the end of the window, not its start): use --at"


async def _workspace(store: Store, platform: str | None, workspace: str | None) -> tuple[str, str]:
    if platform and workspace:
        return platform, workspace
    # One of them given: the busiest workspace that matches it, never one that does not.
    filters = [(column, value) for column, value in (("platform", platform), ("workspace_id", workspace)) if value]
    where = " AND ".join(f"{column} = ?" for column, _ in filters) or "1 = 1"
    row = await store.db.fetchone(
        f"SELECT platform, workspace_id FROM activity_rollup WHERE {where} "
        "GROUP BY platform, workspace_id ORDER BY COUNT(*) DESC",
        tuple(value for _, value in filters),
    )
    if row is None:
        if platform or workspace:
            given = " ".join(f"--{k} {v}" for k, v in (("platform", platform), ("workspace", workspace)) if v)
            raise typer.BadParameter(f"no activity recorded for {given}")
        raise typer.BadParameter("no activity recorded yet; pass --platform and --workspace")
    return str(row[0]), str(row[1])


def _now(since: str | None) -> datetime:
    if not since:
        return utcnow()
    try:
        parsed = datetime.fromisoformat(since)
    except ValueError as exc:
        raise typer.BadParameter(f"--at must be an ISO date/time, got {since!r}") from exc
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=utcnow().tzinfo)
    # The trend windows reach up to a few weeks either side; the calendar's ends overflow them.
    if not datetime(1971, 1, 1, tzinfo=parsed.tzinfo) <= parsed <= datetime(9000, 1, 1, tzinfo=parsed.tzinfo):
        raise typer.BadParameter(f"--at must be between 1971 and 9000, got {since!r}")
    return parsed


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add the activity commands."""

    @app.command("leaderboard")
    def leaderboard_cmd(
        period: Annotated[str, typer.Option(help="week, month or all")] = "week",
        channel: Annotated[str | None, typer.Option(help="Only this channel (id or #name)")] = None,
        platform: Annotated[str | None, typer.Option(help="discord, slack or console")] = None,
        workspace: Annotated[str | None, typer.Option(help="Guild / team id")] = None,
        config: Annotated[str | None, typer.Option(help="Path to guildhall.toml")] = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Most helpful members (opted-out members and those kept off by `leaderboard_exclude` hidden)."""
        from brain.activity.leaderboard import PERIODS, leaderboard, member_names, window_for
        from brain.activity.render_text import leaderboard_text

        if period not in PERIODS:
            raise typer.BadParameter("period must be week, month or all")
        settings = settings_or_exit(config)

        async def go() -> Any:
            store = await open_configured_store(settings.store)
            try:
                p, ws = await _workspace(store, platform, workspace)
                window = window_for(period, utcnow(), settings.tz)
                channel_id = None
                if channel:
                    channel_id = await store.find_channel_id(p, ws, channel)
                    if channel_id is None:
                        raise typer.BadParameter(
                            f"no channel {channel!r} in {p} workspace {ws}", param_hint="--channel"
                        )
                board = await leaderboard(
                    store, p, ws, window, channel_id=channel_id, reactions_per_day=settings.activity.reactions_per_day
                )
                return board, await member_names(store, p, ws, board)
            finally:
                await store.close()

        board, names = run(go)
        data = asdict(board)
        for entry in data["entries"]:
            entry["name"] = names.get(entry["user_id"], entry["user_id"])
        emit(data, as_json, lambda: leaderboard_text(board, names))

    @app.command("trends")
    def trends_cmd(
        at: Annotated[str | None, typer.Option("--at", help="Judge the window ending at this ISO time")] = None,
        # The old name of --at, kept for scripts but hidden: its value is the END of the window.
        since: Annotated[str | None, typer.Option("--since", hidden=True)] = None,
        platform: Annotated[str | None, typer.Option(help="discord, slack or console")] = None,
        workspace: Annotated[str | None, typer.Option(help="Guild / team id")] = None,
        config: Annotated[str | None, typer.Option(help="Path to guildhall.toml")] = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Current topic bursts, sentiment drops and health signals."""
        if since is not None:
            if at is not None:
                raise typer.BadParameter("give --at only (--since is its deprecated name)", param_hint="--since")
            typer.echo(SINCE_DEPRECATED, err=True)
            at = since
        settings = settings_or_exit(config)
        now = _now(at)

        async def go() -> list[dict[str, Any]]:
            found = await _findings(settings, platform, workspace, now)
            # Not asdict(): it would deep-copy each finding's draw function with the posts it charts.
            return [{k.name: getattr(f, k.name) for k in fields(f) if k.name != "draw"} for f in found]

        found = run(go)
        emit(found, as_json, lambda: "\n".join(f"- {f['text']}" for f in found) or "No unusual trends.")

    @app.command("report")
    def report_cmd(
        out: Annotated[Path, typer.Option(help="Where to write the HTML report")] = Path("report.html"),
        platform: Annotated[str | None, typer.Option(help="discord, slack or console")] = None,
        workspace: Annotated[str | None, typer.Option(help="Guild / team id")] = None,
        config: Annotated[str | None, typer.Option(help="Path to guildhall.toml")] = None,
    ) -> None:
        """Write a static weekly community report (charts and tables in one HTML file)."""
        from brain.activity.report_html import build_report

        settings = settings_or_exit(config)

        async def go() -> str:
            now = utcnow()
            found = await _findings(settings, platform, workspace, now)
            store = await open_configured_store(settings.store)
            try:
                p, ws = await _workspace(store, platform, workspace)
                return await build_report(store, p, ws, now=now, tz=settings.tz, findings=found, settings=settings)
            finally:
                await store.close()

        out.write_text(run(go), encoding="utf-8")
        typer.echo(f"wrote {out}")


async def _findings(settings: Settings, platform: str | None, workspace: str | None, now: datetime) -> list[Any]:
    from brain.activity.scan import scan

    store = await open_configured_store(settings.store)
    try:
        p, ws = await _workspace(store, platform, workspace)
        return await scan(
            store,
            p,
            ws,
            settings=settings,
            now=now,
            tz=settings.tz,
            unanswered_after_hours=settings.activity.unanswered_after_hours,
        )
    finally:
        await store.close()
