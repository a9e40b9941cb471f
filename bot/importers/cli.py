"""``guildhall import slack-export|discord-export``: history into the store and every brain."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli_support import emit, run, settings_or_exit, setup_logging
from bot.importers.summary import ImportSummary
from bot.runtime import restore_defaults, tune_for_serving


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add the export importers to ``guildhall import``."""
    group = groups["import"]

    @group.command("slack-export")
    def slack_export(
        path: Annotated[Path, typer.Argument(help="Slack export folder or zip")],
        workspace: Annotated[
            str | None, typer.Option(help="Team id (T…); required when users.json has no team_id")
        ] = None,
        team_domain: Annotated[
            str | None, typer.Option(help="Workspace subdomain for permalinks (acme for acme.slack.com)")
        ] = None,
        index: Annotated[bool, typer.Option("--index/--no-index", help="Rebuild the QA index afterwards")] = True,
        quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar")] = False,
        config: Annotated[str | None, typer.Option(help="Path to guildhall.toml")] = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Import a Slack workspace export."""
        from bot.importers.slack_export import import_slack_export

        _run_import(
            config,
            lambda bot_app: import_slack_export(
                path,
                bot_app.bus,
                workspace_id=workspace,
                team_domain=team_domain,
                progress=None if not quiet else False,
            ),
            index=index,
            as_json=as_json,
        )

    @group.command("discord-export")
    def discord_export(
        paths: Annotated[list[Path], typer.Argument(help="DiscordChatExporter JSON file(s)")],
        private: Annotated[
            bool,
            typer.Option(
                "--private",
                help="The channels are private: readable by those who posted in them (exports carry no permissions)",
            ),
        ] = False,
        index: Annotated[bool, typer.Option("--index/--no-index", help="Rebuild the QA index afterwards")] = True,
        quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar")] = False,
        config: Annotated[str | None, typer.Option(help="Path to guildhall.toml")] = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Import DiscordChatExporter JSON exports."""
        from bot.importers.discord_export import import_discord_export

        _run_import(
            config,
            # The store: a reply to a message imported or seen live before joins its conversation.
            lambda bot_app: import_discord_export(
                paths, bot_app.bus, progress=None if not quiet else False, private=private, store=bot_app.store
            ),
            index=index,
            as_json=as_json,
        )


def _run_import(config: str | None, do_import: Any, *, index: bool, as_json: bool) -> None:
    settings = settings_or_exit(config)
    setup_logging("WARNING")

    async def go() -> tuple[ImportSummary, dict[str, Any], str]:
        from bot.app import build_app

        app = await build_app(settings)
        await app.start()
        tune_for_serving()
        extra: dict[str, Any] = {}
        qa: Any = app.brain("qa") if index and any(b.name == "qa" for b in app.brains) else None
        if qa is not None:
            qa.expect_rebuild()  # imported edits reach the QA brain before the index is built below
        stuck: int | None = None
        try:
            summary: ImportSummary = await do_import(app)
            try:
                await app.bus.drain()
            except TimeoutError:
                # The Redis bus, with Redis unreachable (or its workers behind): nothing is lost,
                # but the store is not up to date, so no counts and no index.
                stuck = int(getattr(app.bus, "buffered", 0))
            else:
                extra["store"] = await app.store.counts()
                if qa is not None:
                    stats = await (await qa.indexer()).index_all()  # expect_rebuild() was called above
                    extra["index"] = stats.as_dict()
        finally:
            await app.stop()
            restore_defaults()
        return summary, extra, "" if stuck is None else _undelivered(app.bus, stuck)

    summary, extra, error = run(go)
    data = {**summary.as_dict(), **extra, **({"error": error} if error else {})}
    emit(data, as_json, lambda: summary.text() + (f"\nindex: {extra['index']}" if "index" in extra else ""))
    if error:
        typer.echo(f"error: {error}", err=True)
    if summary.errors or error:
        raise typer.Exit(1)


def _undelivered(bus: Any, buffered: int) -> str:
    """One line on imported events the bus had not delivered when the import ended (``bus`` closed)."""
    where = getattr(bus, "safe_url", "") or "the configured URL"
    if not buffered:
        return (
            f"Redis at {where} took the imported events but its workers did not finish them in time; "
            "they stay queued there and are processed by the next guildhall start"
        )
    spill = getattr(bus, "spill_path", None)
    if spill is not None and not getattr(bus, "buffered", 0):  # close() spilled the buffer
        return (
            f"Redis at {where} is unreachable: {buffered} imported events were written to {spill} "
            "and are sent on the next guildhall start that reaches Redis"
        )
    return f"Redis at {where} is unreachable: {buffered} imported events were not delivered (see the log above)"
