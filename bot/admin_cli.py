"""Admin commands of the core: ``guildhall audit``, ``guildhall privacy export|forget``, ``guildhall retention``."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli_support import describe_member, emit, member_candidates, run, settings_or_exit, several_members_message
from bot.events import Platform, UserRef

if TYPE_CHECKING:
    from bot.core_brain import Erasure


# The console's one workspace (adapters/console/normalize.py): where an unknown member is looked
# for when nothing narrows the search, as before members were searched for everywhere.
_CONSOLE_WORKSPACE = "local"

UserOpt = Annotated[str, typer.Option("--user", help="Member id or name")]
PlatformOpt = Annotated[
    str | None,
    typer.Option(help="discord, slack or console (default: search every platform for the member)"),
]
WorkspaceOpt = Annotated[
    str | None, typer.Option(help="Guild / team id (default: search every workspace for the member)")
]


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

    @privacy.command("export")
    def export(
        user: UserOpt,
        platform: PlatformOpt = None,
        workspace: WorkspaceOpt = None,
        out: Annotated[Path | None, typer.Option(help="Write JSON here instead of stdout")] = None,
        config: Annotated[str | None, typer.Option(help="Path to guildhall.toml")] = None,
    ) -> None:
        """Everything stored about a member, as JSON (data access request)."""
        _check_platform(platform)
        if out is not None:
            _check_out(out)  # before anything is read: a typo in --out is no export
        settings = settings_or_exit(config)

        async def go() -> str:
            app_ = await _app(settings)
            try:
                core = app_.brain("core")
                # Said only with --out: stdout is then text, not the JSON document scripts read.
                member = await _member(app_, user, platform, workspace, say=out is not None)
                data: dict[str, Any] = await core.export(member)
                payload = json.dumps(data, ensure_ascii=False, indent=2, default=str)
                if out is not None:
                    _write_export(out, payload)  # the audit log records exports that were made
                await app_.store.audit(
                    member.platform.value,
                    member.workspace_id,
                    "cli",
                    "privacy-export",
                    detail={"user": member.user_id},
                )
                return payload
            finally:
                await app_.stop()

        payload = run(go)
        typer.echo(f"wrote {out}" if out is not None else payload)

    @privacy.command("forget")
    def forget(
        user: UserOpt,
        platform: PlatformOpt = None,
        workspace: WorkspaceOpt = None,
        yes: Annotated[bool, typer.Option("--yes", help="Confirm the erasure")] = False,
        config: Annotated[str | None, typer.Option(help="Path to guildhall.toml")] = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Erase a member everywhere (what ``/forget-me`` does), on an admin's behalf."""
        if not yes:
            typer.echo("refusing without --yes: this erases the member's text, index entries and profile", err=True)
            raise typer.Exit(2)
        _check_platform(platform)
        settings = settings_or_exit(config)

        async def go() -> Erasure:
            app_ = await _app(settings)
            try:
                member = await _member(app_, user, platform, workspace, say=not as_json)
                erasure: Erasure = await app_.brain("core").forget(member)
                # The erasure's own entries name the member as its actor, as if they had asked: this
                # one says an operator did (as `privacy export` does), by id only.
                await app_.store.audit(
                    member.platform.value,
                    member.workspace_id,
                    "cli",
                    "privacy-forget",
                    detail={"user": member.user_id, "unfinished": list(erasure.unfinished)},
                )
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


async def _member(app_: Any, user: str, platform: str | None, workspace: str | None, *, say: bool) -> UserRef:
    """The member ``--user`` names: an id, or a display name, found as ``recommend --user`` finds one.

    Without ``--platform`` and ``--workspace`` every platform and workspace is searched (either one
    narrows the search): a privacy request for a Slack or Discord member must not be answered from
    an empty console workspace. Several matches are refused (exit 2) with the candidates, so an
    erasure never picks a member by guess. An id nothing is stored about is still used
    (erasure also keeps their future messages out), with a warning, so a typo is not mistaken
    for a finished request.

    Args:
        app_: The started app (its store).
        user: What ``--user`` says.
        platform: ``--platform``, if given.
        workspace: ``--workspace``, if given.
        say: Tell stderr which member a search found (text mode).
    """
    if platform and workspace:
        scoped = True
        found = await member_candidates(app_.store.db, user, platform=platform, workspace_id=workspace)
    else:
        scoped = False
        found = _people(await member_candidates(app_.store.db, user, platform=platform, workspace_id=workspace))
    if len(found) > 1:
        example = found[0]
        pick = (
            f"pick one with --platform P --workspace W (e.g. --platform {example.platform.value} "
            f"--workspace {example.workspace_id})"
        )
        typer.echo(f"error: {several_members_message(user, found, pick)}; nothing was done", err=True)
        raise typer.Exit(2)
    if found:
        if say and not scoped:
            typer.echo(f"member: {describe_member(found[0])}", err=True)
        return found[0]
    # Not found: the workspace of today's defaults, where nothing narrows it.
    p, ws = platform or Platform.CONSOLE.value, workspace or _CONSOLE_WORKSPACE
    if scoped:
        where = f"in {p}:{ws}"
    else:
        given = " ".join(f"--{k} {v}" for k, v in (("platform", platform), ("workspace", workspace)) if v)
        where = (
            f"anywhere matching {given}" if given else "on any platform, in any workspace"
        ) + f" (all were searched; acting in {p}:{ws})"
    typer.echo(f"warning: nothing is stored about a member {user!r} {where}", err=True)
    return UserRef(Platform(p), ws, user)


def _people(candidates: list[UserRef]) -> list[UserRef]:
    """One candidate per person: a Discord user id is global, the same member in every guild, and
    the privacy commands act on all of them (``CoreBrain.member_everywhere``)."""
    seen: set[str] = set()
    people = []
    for member in candidates:
        if member.platform is Platform.DISCORD:
            if member.user_id in seen:
                continue
            seen.add(member.user_id)
        people.append(member)
    return people


def _check_out(out: Path) -> None:
    """``--out`` must name a file that can be written: in a folder that exists and is writable,
    and not a folder itself."""
    folder = out.parent
    try:
        is_folder, folder_exists = out.is_dir(), folder.is_dir()
        writable = os.access(folder, os.W_OK | os.X_OK) and (not out.exists() or os.access(out, os.W_OK))
    except OSError as exc:  # a name too long...
        raise typer.BadParameter(f"{out}: {exc.strerror or exc}", param_hint="--out") from exc
    if is_folder:
        raise typer.BadParameter(f"{out} is a folder; name the file to write", param_hint="--out")
    if not folder_exists:
        raise typer.BadParameter(f"{out}: there is no folder {folder}", param_hint="--out")
    if not writable:
        raise typer.BadParameter(f"{out}: cannot write there (permission denied)", param_hint="--out")


def _write_export(out: Path, payload: str) -> None:
    """Write the export, or say why not in one line and exit 1 (nothing is audited then)."""
    try:
        out.write_text(payload, encoding="utf-8")
    except OSError as exc:
        typer.echo(f"error: cannot write {out}: {exc.strerror or exc}; no export was made", err=True)
        raise typer.Exit(1) from exc


def _check_platform(platform: str | None) -> None:
    if platform is None:
        return
    try:
        Platform(platform)
    except ValueError as exc:
        raise typer.BadParameter(
            f"platform must be one of {', '.join(p.value for p in Platform)}", param_hint="--platform"
        ) from exc


async def _app(settings: Any) -> Any:
    from bot.app import build_app

    app_ = await build_app(settings)
    await app_.start()
    return app_
