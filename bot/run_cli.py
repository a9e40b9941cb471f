"""``guildhall run``: start the bot on the configured platforms, or in the console.

With no platform credentials configured the bot runs on the console adapter: a local community on
stdin/stdout, seeded with the demo history unless ``--no-demo``. With ``DISCORD_TOKEN`` and/or
``SLACK_BOT_TOKEN`` it connects to those platforms and runs until Ctrl-C.

Nothing here loads a model: brains create their embedder and LLM lazily, so the prompt appears
within seconds and the first question pays for the model load.
"""

from __future__ import annotations

import asyncio
import enum
import importlib
import inspect
import logging
import signal
import sys
from typing import Annotated, Any, TextIO

import typer

from bot.cli_support import run, settings_or_exit, setup_logging
from bot.config import Settings

log = logging.getLogger(__name__)

# Platform adapters, imported only when their platform is configured.
PLATFORM_ADAPTERS: dict[str, str] = {
    "discord": "adapters.discord.adapter:DiscordAdapter",
    "slack": "adapters.slack.adapter:SlackAdapter",
}


class Role(enum.StrEnum):
    """Which part of a deployment this process plays."""

    ALL = "all"
    GATEWAY = "gateway"
    WORKER = "worker"


class RunError(Exception):
    """``guildhall run`` cannot start; ``str()`` tells the operator what to fix."""


def load_adapter_class(platform: str) -> type[Any]:
    """Import the adapter class of ``platform``.

    Raises:
        RunError: when the adapter module is not installed.
    """
    module_name, _, attr = PLATFORM_ADAPTERS[platform].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise RunError(f"{platform} is configured but its adapter ({module_name}) is not available") from exc
        raise
    cls: type[Any] = getattr(module, attr)
    return cls


def make_platform_adapter(platform: str, settings: Settings, app: Any) -> Any:
    """Build the adapter of ``platform``; adapters that keep installations get the store too."""
    cls = load_adapter_class(platform)
    # Slack's multi-workspace (OAuth) mode keeps installations in the store; a single-token
    # adapter takes settings alone.
    if "store" in inspect.signature(cls).parameters:
        return cls(settings, store=app.store)
    return cls(settings)


async def serve(
    settings: Settings,
    *,
    demo: bool = True,
    reader: Any = None,
    writer: TextIO | None = None,
    handle_sigterm: bool = False,
) -> None:
    """Build the app, attach the adapters, run until end of input (console) or cancellation.

    Args:
        settings: Loaded settings.
        demo: Seed the demo community when running on the console.
        reader: Console input (default ``sys.stdin``).
        writer: Console output (default ``sys.stdout``).
        handle_sigterm: Stop cleanly on SIGTERM (``docker stop``, systemd) as on Ctrl-C.

    Raises:
        RunError: a configured brain or adapter is not available.
    """
    if handle_sigterm:
        _stop_on_sigterm()
    from bot.app import build_app, load_brain_class
    from bot.store import open_store

    # Check the brains before opening the store: a store left open keeps a non-daemon database
    # thread alive and the process would hang after printing the error.
    for name in settings.brains:
        try:
            load_brain_class(name)
        except ModuleNotFoundError as exc:
            raise RunError(f"brain {name!r} is not installed ({exc.name}); check `brains` in the config") from exc
    store = await open_store(settings.store.url)
    try:
        app = await build_app(settings, store=store)
    except BaseException:
        await store.close()
        raise
    console = None
    try:
        try:
            if settings.platforms:
                for platform in settings.platforms:
                    app.add_adapter(make_platform_adapter(platform, settings, app))
            else:
                from adapters.console.adapter import ConsoleAdapter

                console = ConsoleAdapter(
                    settings,
                    writer=writer or sys.stdout,
                    command_names=lambda: [spec.name for spec in app.router.specs],
                    clock=app.clock,
                )
                app.add_adapter(console)
            await app.start()
        except ValueError as exc:  # adapters name the missing setting (e.g. SLACK_APP_TOKEN)
            raise RunError(str(exc)) from exc
        if console is None:
            log.info("guildhall: running on %s; Ctrl-C stops", ", ".join(settings.platforms))
            await asyncio.Event().wait()  # until cancelled by Ctrl-C
            return
        if demo:
            from adapters.console.demo import seed_demo

            report = await seed_demo(app)
            if not report.skipped:
                console.notice(
                    demo_notice(report.messages, can_index=app.router.resolve("guildhall index") is not None)
                )
        await console.run_repl(reader or sys.stdin, writer or sys.stdout)
    finally:
        await app.stop()


async def serve_role(settings: Settings, role: str) -> None:
    """Run one scale-out role (``gateway`` or ``worker``) until cancelled.

    Raises:
        RunError: the configuration cannot run this role (no Redis bus, no platform for a gateway).
    """
    from bot.roles import RoleError, build_role, run_forever

    try:
        app = await build_role(settings, role, make_platform_adapter)
    except RoleError as exc:
        raise RunError(str(exc)) from exc
    await run_forever(app)


def demo_notice(messages: int, *, can_index: bool) -> str:
    """The line shown after seeding the demo community."""
    text = f"Demo community seeded: {messages} messages in #general, #help, #python, #announcements and #mods."
    if can_index:
        # Imported history is indexed by a rebuild, not message by message.
        text += (
            " Run /guildhall index once to make it searchable, then ask: @guildhall how do I connect the bot to Slack?"
        )
    return text


def _stop_on_sigterm() -> None:
    task = asyncio.current_task()
    if task is None:
        return
    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    except (NotImplementedError, RuntimeError):  # not on the main thread, or Windows
        pass


def _tolerant_stdio() -> None:
    # A pipe of odd bytes or a terminal that cannot show an emoji must not kill the REPL.
    for stream in (sys.stdin, sys.stdout):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="replace")
            except (ValueError, OSError):
                pass


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add ``guildhall run`` to the CLI."""

    @app.command("run")
    def run_command(
        config: Annotated[str | None, typer.Option(help="Path to guildhall.toml")] = None,
        demo: Annotated[bool, typer.Option("--demo/--no-demo", help="Console only: seed the demo community")] = True,
        role: Annotated[Role, typer.Option(help="all: one process; gateway/worker: scale-out roles")] = Role.ALL,
    ) -> None:
        """Run the bot: on Discord/Slack when configured, else on the console with a demo community."""
        settings = settings_or_exit(config)
        setup_logging(settings.log_level)
        _tolerant_stdio()
        try:
            if role is Role.ALL:
                run(lambda: serve(settings, demo=demo, handle_sigterm=True))
            else:
                run(lambda: serve_role(settings, role.value))
        except RunError as exc:
            typer.echo(f"cannot start: {exc}", err=True)
            raise typer.Exit(2) from exc
        except (KeyboardInterrupt, asyncio.CancelledError):
            # Ctrl-C or SIGTERM cancelled the main task, so app.stop() already ran in its finally.
            typer.echo("stopped", err=True)
