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


def setup_logging(level: str = "INFO") -> None:
    """Log to stderr with the secret-masking filter installed."""
    from bot.logging_setup import configure

    configure(level, stream=sys.stderr)


logger = logging.getLogger("guildhall.cli")
