"""The ``guildhall`` command.

Core commands live here; brains and adapters add theirs through a ``register(app, groups)``
function in their own ``cli.py`` (listed in :data:`PLUGINS`), so each feature owns its commands.
Every command that reports takes ``--json``.
"""

from __future__ import annotations

import importlib
import logging
import os
from typing import Annotated

import typer

from bot import __version__
from bot.cli_support import emit, settings_or_exit
from bot.config import ConfigError, load_settings, unknown_env_vars

log = logging.getLogger(__name__)

app = typer.Typer(help="Guildhall: a community bot for Discord and Slack technical communities.", no_args_is_help=True)
GROUPS: dict[str, typer.Typer] = {
    "import": typer.Typer(help="Import history: platform exports or live backfill.", no_args_is_help=True),
    "index": typer.Typer(help="Build the retrieval index.", no_args_is_help=True),
    "eval": typer.Typer(help="Evaluate quality on real data.", no_args_is_help=True),
    "discord": typer.Typer(help="Discord utilities.", no_args_is_help=True),
    "slack": typer.Typer(help="Slack utilities.", no_args_is_help=True),
    "privacy": typer.Typer(help="Data access and erasure.", no_args_is_help=True),
    "dlq": typer.Typer(help="Dead-letter queue of the Redis bus.", no_args_is_help=True),
}
for _name, _group in GROUPS.items():
    app.add_typer(_group, name=_name)

# Modules that contribute commands; a missing optional module is skipped.
PLUGINS = [
    "bot.run_cli",
    "bot.importers.cli",
    "bot.admin_cli",
    "brain.qa.cli",
    "brain.recommend.cli",
    "brain.activity.cli",
    "brain.community.cli",
    "adapters.discord.cli",
    "adapters.slack.cli",
    "bot.bus_cli",
]


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


@app.command("check-config")
def check_config(
    config: Annotated[str | None, typer.Option(help="Path to guildhall.toml")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Validate configuration and print precise errors."""
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        emit({"ok": False, "errors": str(exc).splitlines()}, as_json, f"configuration error:\n{exc}")
        raise typer.Exit(2) from exc
    problems = settings.slack.connection_problems() + settings.missing_model_paths()
    # `guildhall run` creates data_dir (its lock file, and by default the store, live there); one it
    # cannot create or write passed here and `run` then stopped at once. Look only: a check that
    # made the folder would leave it behind for a config never run.
    data_dir = os.path.abspath(settings.data_dir)
    nearest = data_dir
    while not os.path.exists(nearest) and os.path.dirname(nearest) != nearest:
        nearest = os.path.dirname(nearest)
    if nearest == data_dir:
        if not os.path.isdir(data_dir):
            problems.append(f"data_dir {settings.data_dir} is not a folder")
        elif not os.access(data_dir, os.W_OK | os.X_OK):
            problems.append(f"data_dir {settings.data_dir} is not writable")
    elif not os.path.isdir(nearest):
        problems.append(f"cannot create data_dir {settings.data_dir}: {nearest} is not a folder")
    elif not os.access(nearest, os.W_OK | os.X_OK):
        problems.append(f"cannot create data_dir {settings.data_dir}: {nearest} is not writable")
    stray = settings.slack.stray_secrets()
    if not settings.platforms:
        problems += stray  # `guildhall run` refuses to open the console chat in their place
    if problems:
        emit({"ok": False, "errors": problems}, as_json, "configuration error:\n" + "\n".join(problems))
        raise typer.Exit(2)
    platforms = settings.platforms or ["console"]
    warnings = [f"{var} is not a setting (ignored); check its spelling" for var in unknown_env_vars()]
    warnings += stray  # beside another platform: leftovers, Slack simply not started
    if not as_json:
        for warning in warnings:
            typer.echo(f"warning: {warning}", err=True)
    # Loading already logged deprecated keys to stderr; the JSON report carries them for scripts.
    warnings.extend(settings.discord.deprecation_warnings())
    summary = {
        "ok": True,
        "warnings": warnings,
        "platforms": platforms,
        "store": settings.store.url,
        "bus": settings.bus.kind,
        "brains": settings.brains,
        "llm": settings.llm.backend,
    }
    emit(
        summary,
        as_json,
        f"configuration OK: platforms={','.join(platforms)} store={settings.store.url} bus={settings.bus.kind}",
    )


@app.command("bench")
def bench(
    names: Annotated[
        list[str] | None, typer.Argument(help="Benchmarks to run (e.g. import_speed); all by default")
    ] = None,
) -> None:
    """Run the benchmarks (from a source checkout); each updates its section of docs/benchmarks.md."""
    try:
        from benchmarks.run_all import main as run_benchmarks
    except ModuleNotFoundError as exc:
        typer.echo("benchmarks/ is not here: run `guildhall bench` from a source checkout (make bench)", err=True)
        raise typer.Exit(2) from exc
    failed = run_benchmarks(names or [])
    if failed:
        raise typer.Exit(1)


def _load_plugins() -> None:
    for module_name in PLUGINS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        module.register(app, GROUPS)


_load_plugins()


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main", "settings_or_exit"]
