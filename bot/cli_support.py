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
from bot.store.db import Executor

T = TypeVar("T")


def settings_or_exit(config: str | None = None) -> Settings:
    """Load settings, or print precise errors and exit 2."""
    try:
        return load_settings(config)
    except ConfigError as exc:
        typer.echo(f"configuration error:\n{exc}", err=True)
        raise typer.Exit(2) from exc


def run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    """Run an async entry point."""
    return asyncio.run(_call(coro_fn))


async def _call(coro_fn: Callable[[], Awaitable[T]]) -> T:
    return await coro_fn()


def emit(data: Any, as_json: bool, text: str | Callable[[], str] | None = None) -> None:
    """Print ``data`` as JSON (``--json``) or as human text."""
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        return
    if callable(text):
        text = text()
    typer.echo(text if text is not None else json.dumps(data, ensure_ascii=False, indent=2, default=str))


def setup_logging(level: str = "INFO", settings: Settings | None = None) -> None:
    """Log to stderr with the secret-masking filter installed.

    Args:
        level: The root log level.
        settings: Its configured secrets are masked literally too: a signing secret or an API key
            has no token shape for the patterns to recognise.
    """
    from bot.logging_setup import configure

    configure(level, stream=sys.stderr, known_secrets=settings.secret_values() if settings else None)


logger = logging.getLogger("guildhall.cli")


async def find_member(
    db: Executor,
    id_or_name: str,
    *,
    option: str,
    workspace: tuple[str, str] | None = None,
    pick_workspace: str = "name one with --platform and --workspace",
) -> UserRef:
    """The member a command-line option names: by user id, else by display name (case-insensitive).

    Members known only from their messages or access lists (history imported without a users
    file) are found by id too. A name two members share is refused rather than guessed.

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
    scope_sql, scope = (" AND platform = ? AND workspace_id = ?", list(workspace)) if workspace else ("", [])
    columns = "SELECT platform, workspace_id, user_id, name, is_bot FROM users"
    rows = await db.fetchall(
        f"{columns} WHERE user_id = ?{scope_sql} ORDER BY platform, workspace_id LIMIT 5", [id_or_name, *scope]
    )
    if len(rows) > 1:
        # A Discord user id is global: the same member in two guilds. Never pick one silently.
        where = ", ".join(f"{r[0]}:{r[1]}" for r in rows)
        raise typer.BadParameter(
            f"{id_or_name!r} is a member of several workspaces ({where}): {pick_workspace}", param_hint=option
        )
    if rows:
        row = rows[0]
        return UserRef(Platform(row[0]), row[1], row[2], row[3], bool(row[4]))
    for table, column in (("messages", "author_id"), ("channel_access", "principal_id")):
        found = await db.fetchone(
            f"SELECT platform, workspace_id FROM {table} WHERE {column} = ?{scope_sql} LIMIT 1", [id_or_name, *scope]
        )
        if found is not None:
            return UserRef(Platform(found[0]), found[1], id_or_name)
    # Last, a display name ("Maya" for user id "maya" or "U0123"), as people know each other by name.
    named = await db.fetchall(f"{columns} WHERE lower(name) = lower(?){scope_sql} LIMIT 2", [id_or_name, *scope])
    if len(named) == 2:
        raise typer.BadParameter(f"several members are named {id_or_name!r}: give a user id", param_hint=option)
    if named:
        row = named[0]
        return UserRef(Platform(row[0]), row[1], row[2], row[3], bool(row[4]))
    raise typer.BadParameter(f"unknown member {id_or_name!r}", param_hint=option)
