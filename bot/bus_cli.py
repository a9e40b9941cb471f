"""``guildhall dlq list|replay``: inspect and replay the Redis bus's dead-letter stream."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli_support import emit, run, settings_or_exit


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add the dlq commands."""
    dlq = groups["dlq"]

    def _bus(config: str | None):  # type: ignore[no-untyped-def]
        settings = settings_or_exit(config)
        if settings.bus.kind != "redis":
            typer.echo("the dead-letter queue exists only with bus.kind = redis", err=True)
            raise typer.Exit(2)
        from bot.bus_redis import RedisStreamsBus

        return RedisStreamsBus(settings.bus.redis_url, prefix=settings.bus.stream_prefix)

    @dlq.command("list")
    def dlq_list(
        count: Annotated[int, typer.Option(help="How many entries")] = 100,
        config: Annotated[str | None, typer.Option(help="Path to guildhall.toml")] = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Show dead-lettered events with their error."""
        bus = _bus(config)

        async def go() -> list[dict[str, str]]:
            try:
                rows: list[dict[str, str]] = await bus.dead_letters(count)
                return rows
            finally:
                await bus.close()

        rows = run(go)
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
        bus = _bus(config)

        async def go() -> list[str]:
            try:
                ids = [r["id"] for r in await bus.dead_letters(10_000)] if entry_id == "all" else [entry_id]
                return [i for i in ids if await bus.replay_dead_letter(i)]
            finally:
                await bus.close()

        replayed = run(go)
        emit({"replayed": replayed}, as_json, f"replayed {len(replayed)} event(s)")
