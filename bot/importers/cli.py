"""``guildhall import slack-export|discord-export``: history into the store and every brain.

:func:`import_through_app` is also the path of the API backfills (``guildhall import slack|discord``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

import typer

from bot.cli_support import emit, run, settings_or_exit, setup_logging
from bot.config import Settings
from bot.importers.summary import ImportSummary
from bot.runtime import restore_defaults, tune_for_serving

if TYPE_CHECKING:
    from bot.app import GuildhallApp

T = TypeVar("T")


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
            str | None,
            typer.Option(
                help="Workspace subdomain for permalinks (acme for acme.slack.com)", callback=_team_domain_option
            ),
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


def _team_domain_option(value: str | None) -> str | None:
    """``--team-domain`` as the subdomain, whether given as ``acme``, ``acme.slack.com`` or a URL."""
    from bot.importers.slack_export import normalize_team_domain

    if value is None:
        return None
    try:
        return normalize_team_domain(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _run_import(config: str | None, do_import: Any, *, index: bool, as_json: bool) -> None:
    settings = settings_or_exit(config)
    setup_logging("WARNING")
    done: AppImport[ImportSummary] = run(lambda: import_through_app(settings, do_import, index=index))
    summary = done.result
    finish_import(done, summary.as_dict(), summary.text, as_json=as_json, failed=bool(summary.errors))


def finish_import(
    done: AppImport[Any], data: dict[str, Any], text: Callable[[], str], *, as_json: bool, failed: bool
) -> None:
    """Print an import's outcome (``data`` with the store counts, the index stats and any error;
    or ``text`` and the index line) and exit 1 when it ``failed`` or left events undelivered."""
    emit(
        {**data, **done.extra, **({"error": done.error} if done.error else {})},
        as_json,
        lambda: text() + done.index_line(),
    )
    if done.error:
        typer.echo(f"error: {done.error}", err=True)
    if failed or done.error:
        raise typer.Exit(1)


def backfill_role(settings: Settings) -> str:
    """The app role of an API backfill: the full app on the in-process bus (this process is the only
    one to see the events), publishing only on Redis (the running workers record and learn)."""
    return "all" if settings.bus.kind == "memory" else "gateway"


@dataclass(frozen=True)
class AppImport(Generic[T]):
    """What :func:`import_through_app` did.

    Attributes:
        result: What the import function returned (its own summary or report).
        extra: ``store``: the store's counts afterwards; ``index``: the QA index rebuild's stats
            (each only when it was made: not when the bus kept events undelivered, or the QA brain
            is not in this process).
        error: One line on imported events the bus had not delivered when the import ended; empty
            when none.
    """

    result: T
    extra: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    def index_line(self) -> str:
        """The human summary's last line, ``index: {...}``, when the index was rebuilt (else empty)."""
        return f"\nindex: {self.extra['index']}" if "index" in self.extra else ""


async def import_through_app(
    settings: Settings,
    do_import: Callable[[GuildhallApp], Awaitable[T]],
    *,
    index: bool,
    role: str = "all",
) -> AppImport[T]:
    """Run ``do_import`` against a started app built by :func:`bot.app.build_app`, then drain the bus,
    count the store and (``index``) rebuild the QA index.

    The one way history enters Guildhall from the command line (export files and API backfills
    alike): the bus is the app's, behind the privacy gate with the forgotten members loaded from the
    store, and with ``role="all"`` the recorder and every configured brain see the history as they
    see live traffic. ``role="gateway"`` only publishes, for a Redis bus whose running workers record
    and learn; the drain then waits for the events to reach Redis, not for the workers.

    The app serves no metrics: an import runs beside the bot, which already holds that port.
    """
    from bot.app import build_app

    # An import is a second process beside the running bot (`docker compose exec guildhall guildhall
    # import ...` inherits GUILDHALL_METRICS_PORT): binding the bot's metrics port failed the import.
    app = await build_app(settings.model_copy(update={"metrics_port": None}), role=role)
    extra: dict[str, Any] = {}
    stuck: int | None = None
    try:
        await app.start(scheduled=False)  # no adapter here to post what a scheduled job makes
        tune_for_serving()
        qa: Any = app.brain("qa") if index and any(b.name == "qa" for b in app.brains) else None
        if qa is not None:
            qa.expect_rebuild()  # imported edits reach the QA brain before the index is built below
        result = await do_import(app)
        try:
            await app.bus.drain()
        except TimeoutError:
            # The Redis bus, with Redis unreachable (or its workers behind): nothing is lost,
            # but the store is not up to date, so no counts and no index.
            stuck = int(getattr(app.bus, "buffered", 0))
        else:
            if role != "gateway":  # behind Redis, the workers are still storing what was published
                extra["store"] = await app.store.counts()
            if qa is not None:
                stats = await (await qa.indexer()).index_all()  # expect_rebuild() was called above
                extra["index"] = stats.as_dict()
    finally:
        await app.stop()
        restore_defaults()
    return AppImport(result, extra, "" if stuck is None else _undelivered(app.bus, stuck))


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
