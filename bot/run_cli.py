"""``guildhall run``: start the bot on the configured platforms, or in the console.

With no platform credentials configured the bot runs on the console adapter: a local community on
stdin/stdout, seeded with the demo history unless ``--no-demo``. With ``DISCORD_TOKEN`` and/or
``SLACK_BOT_TOKEN`` it connects to those platforms and runs until Ctrl-C.

Nothing on the start-up path loads a model: brains create their embedder and LLM lazily, and a
background task (:func:`prepare_qa`) indexes the seeded demo and loads the models while the prompt
is already up, so the first question need not pay for the load (``llm.warmup = false`` skips the LLM).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import importlib
import inspect
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from bot.cli_support import run, settings_or_exit, setup_logging
from bot.config import Settings, unknown_env_vars
from bot.runtime import restore_defaults, tune_for_serving

if TYPE_CHECKING:
    from bot.app import GuildhallApp

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
        RunError: a configured brain or adapter is not available, or another ``guildhall run``
            uses the same ``data_dir``.
    """
    if handle_sigterm:
        _stop_on_sigterm()
    with data_dir_lock(settings.data_dir):
        await _serve(settings, demo=demo, reader=reader, writer=writer)


async def _serve(settings: Settings, *, demo: bool, reader: Any, writer: TextIO | None) -> None:
    from bot.app import build_app, load_brain_class
    from bot.store import open_configured_store

    # Slack secrets set without a bot token or client id: the console would open instead of Slack.
    if not settings.platforms and (problems := settings.slack.stray_secrets()):
        raise RunError("; ".join(problems))
    # Check the brains before opening the store: a store left open keeps a non-daemon database
    # thread alive and the process would hang after printing the error.
    for name in settings.brains:
        try:
            load_brain_class(name)
        except ModuleNotFoundError as exc:
            raise RunError(f"brain {name!r} is not installed ({exc.name}); check `brains` in the config") from exc
    store = await open_configured_store(settings.store)
    try:
        app = await build_app(settings, store=store)
    except BaseException:
        await store.close()
        raise
    console = None
    background: list[asyncio.Task[None]] = []
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
                    store=app.store,
                )
                app.add_adapter(console)
            await app.start()
            tune_for_serving()
        except ValueError as exc:  # adapters name the missing setting (e.g. SLACK_APP_TOKEN)
            raise RunError(str(exc)) from exc
        except OSError as exc:  # a platform or service unreachable at start: one line, not a traceback
            raise RunError(f"cannot connect: {exc}") from exc
        if console is None:
            log.info("guildhall: running on %s; Ctrl-C stops", ", ".join(settings.platforms))
            background.append(asyncio.create_task(prepare_qa(app), name="guildhall.prepare_qa"))
            await asyncio.Event().wait()  # until cancelled by Ctrl-C
            return
        docs: list[Path] = []
        seeded = False
        if demo:
            from adapters.console.demo import demo_doc_paths, demo_seeded, seed_demo

            if has_brain(app, "qa") and not await demo_seeded(app):
                qa: Any = app.brain("qa")
                qa.expect_rebuild(hold_questions=True)  # prepare_qa indexes the seeded history and docs
            report = await seed_demo(app)
            seeded = not report.skipped
            if seeded:
                docs = demo_doc_paths()
                console.notice(demo_notice(report.messages, indexing=has_brain(app, "qa")))
        background.append(
            asyncio.create_task(
                prepare_qa(app, index_history=seeded, doc_paths=docs, notice=console.notice),
                name="guildhall.prepare_qa",
            )
        )
        await console.run_repl(reader or sys.stdin, writer or sys.stdout)
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await app.shutdown()  # a second SIGTERM must not cut the drain and the brains' teardown short
        restore_defaults()


LOCK_FILE = "guildhall.lock"


@contextlib.contextmanager
def data_dir_lock(data_dir: str) -> Iterator[None]:
    """Hold ``data_dir/guildhall.lock`` while one ``guildhall run`` uses the data folder.

    A second run in the same folder shared the SQLite file and the embedded Chroma index (which
    is not safe across processes), ran every schedule twice and, on Discord or Slack, answered
    every question twice, without a word. The lock is the kernel's (``flock``): it goes with the
    process, so a crash leaves no stale lock behind. Where ``flock`` is missing (Windows) the
    folder is not locked.

    Raises:
        RunError: another process holds the folder, or the lock file cannot be opened or locked.
    """
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    folder = Path(data_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create data_dir {data_dir}: {exc.strerror or exc}") from exc
    path = folder / LOCK_FILE
    try:
        handle = path.open("a+", encoding="utf-8")
    except OSError as exc:  # a folder of that name, no write permission...
        raise RunError(
            f"cannot open {str(path)!r}, the lock that keeps a second guildhall off this data_dir: "
            f"{exc.strerror or exc}"
        ) from exc
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise RunError(
                f"another guildhall (pid {holder}) is running with data_dir {str(folder)!r}; "
                "stop it first, or give this one its own data_dir (GUILDHALL_DATA_DIR)"
            ) from None
        except OSError as exc:  # a file system without locks (ENOLCK)
            raise RunError(f"cannot lock {str(path)!r}: {exc.strerror or exc}") from exc
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


async def serve_role(settings: Settings, role: str, *, handle_sigterm: bool = False) -> None:
    """Run one scale-out role (``gateway`` or ``worker``) until cancelled.

    ``handle_sigterm``: SIGTERM (``docker stop``, a Kubernetes rollout) cancels the run like Ctrl-C,
    so the app stops in order (in-flight handlers drained, unsent events journalled) instead of the
    process being killed where it stands.

    Raises:
        RunError: the configuration cannot run this role (no Redis bus, no platform for a gateway).
    """
    from bot.roles import RoleError, build_role, run_forever

    if handle_sigterm:
        _stop_on_sigterm()
    try:
        app = await build_role(settings, role, make_platform_adapter)
    except (RoleError, ValueError) as exc:  # ValueError: an adapter refused its settings (SLACK_CLIENT_SECRET)
        raise RunError(str(exc)) from exc
    try:
        await run_forever(app)
    except ValueError as exc:  # an adapter names the missing setting (e.g. SLACK_APP_TOKEN)
        raise RunError(str(exc)) from exc
    except OSError as exc:  # a platform or service unreachable at start: one line, not a traceback
        raise RunError(f"cannot connect: {exc}") from exc


def demo_notice(messages: int, *, indexing: bool) -> str:
    """The line shown after seeding the demo community."""
    text = f"Demo community seeded: {messages} messages in #general, #help, #python, #announcements and #mods."
    if indexing:
        text += " Indexing it and the project docs in the background; you can chat meanwhile."
    return text


def has_brain(app: GuildhallApp, name: str) -> bool:
    """Whether the brain called ``name`` runs in ``app``."""
    return any(b.name == name for b in app.brains)


async def prepare_qa(
    app: GuildhallApp,
    *,
    index_history: bool = False,
    doc_paths: Sequence[Path] = (),
    notice: Callable[[str], None] | None = None,
) -> None:
    """Off the start-up path: index seeded history and docs, then load the models.

    Runs as a background task so the prompt (or the gateway) is up at once; a failure is logged,
    never fatal: the first question would then load the models itself. ``notice`` (the console) is
    told when the index is built and, on every start, when questions are answered at once: the
    model loads for tens of seconds after the index is ready.
    """
    if not has_brain(app, "qa"):
        return
    qa: Any = app.brain("qa")
    warm_llm = app.settings.llm.warmup
    try:
        if index_history or doc_paths:
            history = await (await qa.indexer(rebuilding=True)).index_all() if index_history else None
            docs, errors = await qa.index_docs(doc_paths)
            for error in errors:
                log.warning("qa: docs: %s", error)
            units = docs.units_upserted + (history.units_upserted if history else 0)
            if notice is not None:
                if warm_llm:
                    notice(f"Index ready ({units} units); loading the language model (questions wait for it)…")
                else:
                    notice(f"Index ready ({units} units). {_model_on_demand()} {_try_asking(app)}")
        qa.rebuild_finished()  # now, not after the warm-up: held questions need the index, not the models
        await qa.warm_up()
        if notice is not None:
            if not warm_llm:
                if not (index_history or doc_paths):
                    notice(f"Ready. {_model_on_demand()} {_try_asking(app)}")
            elif _llm_loaded(app):
                notice(f"Ready: questions are answered now. {_try_asking(app)}")
            else:
                notice("The language model did not load (the warning above says why); each question tries again.")
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("qa: background indexing / model warm-up failed; questions will load the models on demand")
    finally:
        qa.rebuild_finished()  # never leave questions held


def _try_asking(app: GuildhallApp) -> str:
    return f"Try: @{app.settings.bot_name} how do I connect the bot to Slack?"


def _model_on_demand() -> str:
    return "The language model loads with the first question (`llm.warmup = false`), which waits for it."


def _llm_loaded(app: GuildhallApp) -> bool:
    """Whether the LLM service is in memory, as ``/guildhall status`` judges it."""
    llm = app.services.peek("llm")
    return llm is not None and bool(getattr(llm, "loaded", True))


def _stop_on_sigterm() -> None:
    """Make SIGTERM cancel the running task (a graceful stop, as Ctrl-C), once: a further SIGTERM
    while it stops (a supervisor repeating its signal, an impatient operator) is logged and
    ignored, or it would cancel the shutdown itself mid-drain (the brains' teardown skipped)."""
    task = asyncio.current_task()
    if task is None:
        return

    def on_sigterm() -> None:
        if task.cancelling():
            log.warning("SIGTERM: already stopping (draining in-flight events, then tearing down)")
            return
        log.info("SIGTERM: stopping")
        task.cancel()

    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, on_sigterm)
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
        # On the console the terminal is the chat: the log goes to data_dir/guildhall.log instead.
        setup_logging(settings.log_level, settings, console=role is Role.ALL and not settings.platforms)
        for var in unknown_env_vars():
            log.warning("%s is not a setting (ignored); check its spelling", var)
        _tolerant_stdio()
        try:
            if role is Role.ALL:
                run(lambda: serve(settings, demo=demo, handle_sigterm=True))
            else:
                run(lambda: serve_role(settings, role.value, handle_sigterm=True))
        except RunError as exc:
            typer.echo(f"cannot start: {exc}", err=True)
            raise typer.Exit(2) from exc
        except KeyboardInterrupt as exc:
            # Ctrl-C cancelled the main task, so app.stop() already ran in its finally. 130 is the
            # shell's status for an interrupt: a script running the bot can tell it from a clean end.
            typer.echo("stopped", err=True)
            raise typer.Exit(130) from exc
        except asyncio.CancelledError:
            # SIGTERM (a deploy stopping the bot): a graceful stop, status 0.
            typer.echo("stopped", err=True)
