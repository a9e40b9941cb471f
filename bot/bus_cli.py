"""``guildhall dlq list|replay``: inspect and replay the Redis bus's dead-letter stream."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from bot.cli_support import emit, run, settings_or_exit

if TYPE_CHECKING:
    from bot.bus_redis import RedisStreamsBus

T = TypeVar("T")
# A stream entry id: milliseconds, "-" and a sequence number (1700000000000-0). The milliseconds
# alone name every entry of that millisecond to XRANGE but none to XDEL: a replay re-published the
# event and left it in the dead-letter stream, so each replay duplicated it.
_ENTRY_ID = re.compile(r"\d+-\d+")
# Dead letters read per page by `dlq replay all`.
_REPLAY_PAGE = 1000


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add the dlq commands."""
    dlq = groups["dlq"]

    @dlq.command("list")
    def dlq_list(
        count: Annotated[int, typer.Option(min=1, help="How many entries")] = 100,
        config: Annotated[str | None, typer.Option(help="Path to guildhall.toml")] = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Show dead-lettered events with their error: the exception's type, where it was raised and
        its message, with the event's words, names and member ids masked."""

        async def go(bus: RedisStreamsBus) -> list[dict[str, str]]:
            return await bus.dead_letters(count)

        rows = _with_bus(config, go)
        emit(
            rows,
            as_json,
            lambda: (
                "\n".join(f"{r['id']}  {r.get('group', '')}  {r.get('error', '')[:100]}" for r in rows) or "(empty)"
            ),
        )

    @dlq.command("replay")
    def dlq_replay(
        entry_id: Annotated[str, typer.Argument(help="Dead-letter entry id, or 'all'")],
        config: Annotated[str | None, typer.Option(help="Path to guildhall.toml")] = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Re-publish dead-lettered events to their streams."""
        if entry_id != "all" and not _ENTRY_ID.fullmatch(entry_id):
            raise typer.BadParameter(
                f"{entry_id!r} is not a dead-letter entry id (ids look like 1700000000000-0; "
                "'guildhall dlq list' shows them), nor 'all'",
                param_hint="ENTRY_ID",
            )

        async def go(bus: RedisStreamsBus) -> tuple[list[str], int]:
            if entry_id != "all":
                return ([entry_id] if await bus.replay_dead_letter(entry_id) else []), 0
            # The ids there now, read first: an event that fails again is dead-lettered again, with
            # a new id, and must not be replayed in a loop by this same command.
            ids: list[str] = []
            while page := [str(r["id"]) for r in await bus.dead_letters(_REPLAY_PAGE, after=ids[-1] if ids else None)]:
                ids += page
            replayed = [i for i in ids if await bus.replay_dead_letter(i)]
            return replayed, len(ids) - len(replayed)

        replayed, left = _with_bus(config, go)
        note = f" ({left} left: they hold no event to replay, or are gone)" if left else ""
        emit({"replayed": replayed, "left": left}, as_json, f"replayed {len(replayed)} event(s){note}")
        if entry_id != "all" and not replayed:
            typer.echo(f"no dead letter {entry_id} to replay ('guildhall dlq list' shows them)", err=True)
            raise typer.Exit(1)


def _with_bus(config: str | None, work: Callable[[RedisStreamsBus], Awaitable[T]]) -> T:
    """Run ``work`` on the configured Redis bus; a Redis that is unreachable, a bad URL or a refused
    command is a one-line error (exit 1), not a traceback."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    from bot.bus_redis import RedisStreamsBus

    settings = settings_or_exit(config)
    if settings.bus.kind != "redis":
        typer.echo("the dead-letter queue exists only with bus.kind = redis", err=True)
        raise typer.Exit(2)
    try:
        bus = RedisStreamsBus(settings.bus.redis_url, prefix=settings.bus.stream_prefix)
    except ValueError as exc:  # redis-py's message names the accepted schemes, never the URL (it may hold a password)
        typer.echo(f"error: bus.redis_url is not a Redis URL: {exc}", err=True)
        raise typer.Exit(1) from exc

    async def go() -> T:
        try:
            return await work(bus)
        finally:
            await bus.close()

    try:
        return run(go)
    except (RedisError, OSError, ValueError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        unreachable = isinstance(exc, (RedisConnectionError, RedisTimeoutError, OSError))
        what = "cannot reach Redis at" if unreachable else "Redis refused the command at"
        typer.echo(f"error: {what} {bus.safe_url} ({reason})", err=True)
        raise typer.Exit(1) from exc
