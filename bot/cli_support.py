"""Helpers shared by every ``guildhall`` sub-command: settings, the event loop, output."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer

from bot.config import ConfigError, Settings, load_settings
from bot.events import Platform, UserRef
from bot.permissions import DISCORD_DM_WORKSPACE
from bot.store.db import Executor
from bot.store.opening import StoreUnavailable
from bot.valid_text import valid_text

T = TypeVar("T")


def settings_or_exit(config: str | None = None) -> Settings:
    """Load settings, or print precise errors and exit 2."""
    try:
        return load_settings(config)
    except ConfigError as exc:
        typer.echo(f"configuration error:\n{exc}", err=True)
        raise typer.Exit(2) from exc


def run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    """Run an async entry point; a store that cannot be opened is one line on stderr and exit 2."""
    try:
        return asyncio.run(_call(coro_fn))
    except StoreUnavailable as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc


async def _call(coro_fn: Callable[[], Awaitable[T]]) -> T:
    return await coro_fn()


def emit(data: Any, as_json: bool, text: str | Callable[[], str] | None = None) -> None:
    """Print ``data`` as JSON (``--json``) or as human text (``text``, else ``data`` as JSON).

    Anything in them prints, as a command's outcome comes after its work is done: a lone surrogate
    (half an emoji in a platform's JSON, an id or a file name quoted in a warning) becomes U+FFFD,
    and on an output whose encoding lacks a character the text is escaped to ASCII (JSON with
    ``\\u`` escapes, so it stays JSON).
    """
    if as_json or text is None:
        out = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    else:
        out = text() if callable(text) else text
    try:
        typer.echo(valid_text(out))
    except UnicodeEncodeError:
        if as_json or text is None:
            out = json.dumps(data, ensure_ascii=True, indent=2, default=str)
        typer.echo(valid_text(out).encode("ascii", "backslashreplace").decode("ascii"))


# The console's log file, in data_dir: the terminal is the chat there.
CONSOLE_LOG_FILE = "guildhall.log"


def setup_logging(level: str = "INFO", settings: Settings | None = None, *, console: bool = False) -> None:
    """Log to stderr with the secret-masking filter installed.

    Args:
        level: The root log level.
        settings: Its configured secrets are masked literally too: a signing secret or an API key
            has no token shape for the patterns to recognise.
        console: ``guildhall run`` on the console: the log goes to ``data_dir/guildhall.log`` and
            stderr (the chat's screen) shows warnings and errors only.
    """
    from pathlib import Path

    from bot.logging_setup import configure

    log_file = Path(settings.data_dir) / CONSOLE_LOG_FILE if console and settings is not None else None
    configure(
        level,
        stream=sys.stderr,
        known_secrets=settings.secret_values() if settings else None,
        log_file=log_file,
    )


logger = logging.getLogger("guildhall.cli")


async def member_candidates(
    db: Executor, id_or_name: str, *, platform: str | None = None, workspace_id: str | None = None
) -> list[UserRef]:
    """Every member ``id_or_name`` may mean: by user id, else by display name (case-insensitive).

    Members known only from their messages or access lists (history imported without a users
    file) are found by id too. The Discord DM workspace (``@me``) is dropped when the same id is
    also in a guild: it is that member's DMs with the bot, never the place a command means.

    Args:
        db: The store's database.
        id_or_name: What the user typed.
        platform: Only this platform, when given.
        workspace_id: Only this workspace, when given.

    Returns:
        The matches, ordered by platform and workspace: none, one, or several to choose from.
    """
    filters = [(column, value) for column, value in (("platform", platform), ("workspace_id", workspace_id)) if value]
    scope_sql = "".join(f" AND {column} = ?" for column, _ in filters)
    scope = [value for _, value in filters]
    columns = "SELECT platform, workspace_id, user_id, name, is_bot FROM users"
    # No LIMIT: a cut list could hold one Discord member's many guilds and hide a second member,
    # and a privacy command would then act on one without asking. Exact matches stay few anyway.
    rows = await db.fetchall(
        f"{columns} WHERE user_id = ?{scope_sql} ORDER BY platform, workspace_id", [id_or_name, *scope]
    )
    found = [UserRef(Platform(r[0]), r[1], r[2], r[3], bool(r[4])) for r in rows]
    if not found:
        places: set[tuple[str, str]] = set()
        for table, column in (("messages", "author_id"), ("channel_access", "principal_id")):
            # Every workspace, not the first one: an id on two platforms is two members to choose from.
            # Access lists name roles too (and a Discord server by its @everyone role): members only.
            kind = " AND principal_kind = 'user'" if table == "channel_access" else ""
            rows = await db.fetchall(
                f"SELECT DISTINCT platform, workspace_id FROM {table} WHERE {column} = ?{kind}{scope_sql}",
                [id_or_name, *scope],
            )
            places |= {(str(r[0]), str(r[1])) for r in rows}
        found = [UserRef(Platform(p), ws, id_or_name) for p, ws in sorted(places)]
    if not found:
        # Last, a display name ("Maya" for user id "maya" or "U0123"), as people know each other by name.
        rows = await db.fetchall(
            f"{columns} WHERE lower(name) = lower(?){scope_sql} ORDER BY platform, workspace_id, user_id",
            [id_or_name, *scope],
        )
        found = [UserRef(Platform(r[0]), r[1], r[2], r[3], bool(r[4])) for r in rows]
    in_guild = {m.user_id for m in found if m.platform is Platform.DISCORD and m.workspace_id != DISCORD_DM_WORKSPACE}
    return [
        m
        for m in found
        if not (m.platform is Platform.DISCORD and m.workspace_id == DISCORD_DM_WORKSPACE and m.user_id in in_guild)
    ]


# How many candidates an ambiguity error lists (all of them are still considered).
LISTED_CANDIDATES = 20


def describe_member(member: UserRef) -> str:
    """``slack:T1 U1 (Ada)``: where a member is, their id and name, for messages."""
    name = f" ({member.name})" if member.name else ""
    return f"{member.platform.value}:{member.workspace_id} {member.user_id}{name}"


def several_members_message(id_or_name: str, candidates: list[UserRef], pick_workspace: str) -> str:
    """Why ``id_or_name`` was refused, the candidates it may mean, and how to choose one."""
    places = {(m.platform, m.workspace_id) for m in candidates}
    listing = "; ".join(describe_member(m) for m in candidates[:LISTED_CANDIDATES])
    if len(candidates) > LISTED_CANDIDATES:
        listing += f"; and {len(candidates) - LISTED_CANDIDATES} more"
    if len(places) == len(candidates) and all(m.user_id == id_or_name for m in candidates):
        # A Discord user id is global: the same member in two guilds. Never pick one silently.
        return f"{id_or_name!r} is a member of several workspaces ({listing}): {pick_workspace}"
    how = "give a user id" if len(places) < len(candidates) else f"give a user id, or {pick_workspace}"
    return f"several members are named {id_or_name!r} ({listing}): {how}"


async def find_member(
    db: Executor,
    id_or_name: str,
    *,
    option: str,
    workspace: tuple[str, str] | None = None,
    pick_workspace: str = "name one with --platform and --workspace",
) -> UserRef:
    """The member a command-line option names (:func:`member_candidates`); several are refused
    rather than guessed.

    Args:
        db: The store's database.
        id_or_name: What the user typed.
        option: The option's name for error messages (``--as``).
        workspace: ``(platform, workspace_id)`` to look in, when the command is scoped to one.
        pick_workspace: How the user scopes the command, for the error about an id that is a
            member of several workspaces.

    Raises:
        typer.BadParameter: unknown, or ambiguous.
    """
    platform, workspace_id = workspace if workspace else (None, None)
    found = await member_candidates(db, id_or_name, platform=platform, workspace_id=workspace_id)
    if len(found) > 1:
        raise typer.BadParameter(several_members_message(id_or_name, found, pick_workspace), param_hint=option)
    if found:
        return found[0]
    raise typer.BadParameter(f"unknown member {id_or_name!r}", param_hint=option)
