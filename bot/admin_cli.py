"""Admin commands of the core: ``guildhall audit``, ``guildhall privacy export|forget``, ``guildhall retention``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli_support import emit, find_member, run, settings_or_exit
from bot.events import Platform, UserRef

if TYPE_CHECKING:
    from bot.core_brain import Erasure


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add audit, privacy and retention commands."""
    privacy = groups["privacy"]

    @app.command("audit")
    def audit(
        # min=1: PostgreSQL refuses a negative LIMIT with a traceback, SQLite reads -1 as "all".
        limit: Annotated[int, typer.Option(min=1, help="How many entries")] = 50,
        config: Annotated[str | None, typer.Option(help="Path to guildhall.toml")] = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Show the audit log (admin actions, refusals, privacy requests), newest first."""
        settings = settings_or_exit(config)

        async def go() -> list[dict[str, Any]]:
            from bot.store import open_configured_store

            store = await open_configured_store(settings.store)
            try:
                return await store.audit_entries(limit)
            finally:
                await store.close()

        rows = run(go)

        def text() -> str:
            lines = []
            for r in rows:
                when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r["ts"]))
                flag = "" if r["allowed"] else "  REFUSED"
                lines.append(f"{when}  {r['platform']}:{r['workspace_id']}  {r['actor_id']}  {r['action']}{flag}")
            return "\n".join(lines) or "(no audit entries)"

        emit(rows, as_json, text)

    def _user(platform: str, workspace: str, user: str) -> UserRef:
        try:
            return UserRef(Platform(platform), workspace, user)
        except ValueError as exc:
            raise typer.BadParameter(f"platform must be one of {', '.join(p.value for p in Platform)}") from exc

    @privacy.command("export")
    def export(
        user: Annotated[str, typer.Option("--user", help="Member id")],
        platform: Annotated[str, typer.Option(help="discord, slack or console")] = "console",
        workspace: Annotated[str, typer.Option(help="Guild / team id")] = "local",
        out: Annotated[Path | None, typer.Option(help="Write JSON here instead of stdout")] = None,
        config: Annotated[str | None, typer.Option(help="Path to guildhall.toml")] = None,
    ) -> None:
        """Everything stored about a member, as JSON (data access request)."""
        settings = settings_or_exit(config)
        ref = _user(platform, workspace, user)

        async def go() -> dict[str, Any]:
            app_ = await _app(settings)
            try:
                core = app_.brain("core")
                data: dict[str, Any] = await core.export(await _member(app_, ref))
                await app_.store.audit(platform, workspace, "cli", "privacy-export", detail={"user": user})
                return data
            finally:
                await app_.stop()

        data = run(go)
        payload = json.dumps(data, ensure_ascii=False, indent=2, default=str)
        if out:
            out.write_text(payload, encoding="utf-8")
            typer.echo(f"wrote {out}")
        else:
            typer.echo(payload)

    @privacy.command("forget")
    def forget(
        user: Annotated[str, typer.Option("--user", help="Member id")],
        platform: Annotated[str, typer.Option(help="discord, slack or console")] = "console",
        workspace: Annotated[str, typer.Option(help="Guild / team id")] = "local",
        yes: Annotated[bool, typer.Option("--yes", help="Confirm the erasure")] = False,
        config: Annotated[str | None, typer.Option(help="Path to guildhall.toml")] = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Erase a member everywhere (what ``/forget-me`` does), on an admin's behalf."""
        if not yes:
            typer.echo("refusing without --yes: this erases the member's text, index entries and profile", err=True)
            raise typer.Exit(2)
        settings = settings_or_exit(config)
        ref = _user(platform, workspace, user)

        async def go() -> Erasure:
            app_ = await _app(settings)
            try:
                erasure: Erasure = await app_.brain("core").forget(await _member(app_, ref))
                return erasure
            finally:
                await app_.stop()

        erasure = run(go)
        emit(
            {"counts": erasure.counts, "unfinished": list(erasure.unfinished)},
            as_json,
            f"erased {erasure.total} items: {erasure.counts}"
            + (f"; not finished: {', '.join(erasure.unfinished)} (see the log)" if erasure.unfinished else ""),
        )
        if erasure.unfinished:
            raise typer.Exit(1)


async def _member(app_: Any, ref: UserRef) -> UserRef:
    """The member ``--user`` names: an id, or a display name as ``recommend --user`` takes it. An id
    nothing is stored about is still used (erasure also keeps their future messages out), with a
    warning, so a typo is not mistaken for a finished request."""
    try:
        return await find_member(
            app_.store.db, ref.user_id, option="--user", workspace=(ref.platform.value, ref.workspace_id)
        )
    except typer.BadParameter as exc:
        if "several members" in str(exc):
            raise
        typer.echo(
            f"warning: nothing is stored about a member {ref.user_id!r} in {ref.platform.value}:{ref.workspace_id}",
            err=True,
        )
        return ref


async def _app(settings: Any) -> Any:
    from bot.app import build_app

    app_ = await build_app(settings)
    await app_.start()
    return app_
