"""Brains: units of behaviour that subscribe to events by class and act through a context.

Example::

    class Greeter(Brain):
        name = "greeter"

        @listen(MemberJoined)
        async def welcome(self, event: MemberJoined) -> None:
            await self.ctx.dm(event.user, "Welcome!")

        @every(at="09:00")
        async def morning(self) -> None: ...

        @command("hello", description="Say hello")
        async def hello(self, cmd: CommandInvoked) -> CommandResult:
            return CommandResult("hi!")

No globals: everything a brain touches comes through ``self.ctx`` (bus, store, settings, clock,
shared services such as the embedder and the vector index).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from bot.bus import cancelling_this_task
from bot.clock import Clock
from bot.events import (
    Attachment,
    Button,
    ChannelRef,
    Citation,
    CommandInvoked,
    CommandReply,
    Event,
    MessagePosted,
    Platform,
    SendDirectMessage,
    SendEphemeral,
    SendMessage,
    UserRef,
)
from bot.recorder import removed_workspaces
from bot.scheduler import Schedule, parse_hhmm

if TYPE_CHECKING:
    from bot.bus import EventBus
    from bot.config import Settings
    from bot.store import Store

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

_LISTEN_ATTR = "__guildhall_listen__"
_EVERY_ATTR = "__guildhall_every__"
_COMMAND_ATTR = "__guildhall_command__"


def listen(*event_types: type[Event], concurrency: int = 1) -> Callable[[F], F]:
    """Mark a brain method as a handler for events of ``event_types`` (subclasses included).

    ``concurrency`` > 1 lets several events be handled at once (e.g. slow LLM answers), at the cost
    of ordering between them.
    """

    def mark(fn: F) -> F:
        setattr(fn, _LISTEN_ATTR, (event_types, concurrency))
        return fn

    return mark


def every(
    *,
    minutes: float | None = None,
    hours: float | None = None,
    at: str | None = None,
    weekday: int | None = None,
    setting: str | None = None,
    one_worker: bool = False,
    weekday_setting: str | None = None,
    catch_up: timedelta | None = None,
) -> Callable[[F], F]:
    """Mark a brain method as a scheduled job.

    Either an interval (``minutes`` / ``hours``) or a local time ``at="HH:MM"`` (optionally on a
    ``weekday``, 0=Monday). ``setting`` names a dotted settings path holding the ``HH:MM`` time, so
    admins configure the hour (e.g. ``"recommend.digest_time"``); ``weekday_setting`` likewise the
    weekday. ``one_worker``: community-wide work (DMs, posts, alerts) that one of several worker
    processes does per run, not each of them. ``catch_up``: a run missed while the bot was down is
    made once when it starts again, if it is at most this late (see :class:`~bot.scheduler.Schedule`);
    the job reads the slot it runs for with :func:`~bot.scheduler.scheduled_slot`.
    """

    def mark(fn: F) -> F:
        setattr(fn, _EVERY_ATTR, (minutes, hours, at, weekday, setting, one_worker, weekday_setting, catch_up))
        return fn

    return mark


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """Metadata of a command handler."""

    name: str
    description: str
    admin: bool = False
    usage: str = ""


def command(name: str, *, description: str, admin: bool = False, usage: str = "") -> Callable[[F], F]:
    """Mark a brain method as the handler of slash command ``name`` (e.g. ``"ask"``,
    ``"guildhall index"``). Admin commands are permission-checked before the handler runs."""

    def mark(fn: F) -> F:
        setattr(fn, _COMMAND_ATTR, CommandSpec(name, description, admin, usage))
        return fn

    return mark


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a command handler answers; the router turns it into a :class:`CommandReply`."""

    text: str
    ephemeral: bool = True
    citations: tuple[Citation, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    buttons: tuple[Button, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)


class Services:
    """Shared, lazily created heavy objects (embedder, vector index, LLM), keyed by name.

    Brains share one instance of each so that, e.g., the recommender reuses the QA embeddings.
    """

    def __init__(self) -> None:
        self._objects: dict[str, Any] = {}
        self._factories: dict[str, Callable[[], Awaitable[Any]]] = {}
        # One creation per name even when many handlers ask at once (a model load takes seconds).
        self._creating: dict[str, asyncio.Future[Any]] = {}

    def register(self, name: str, obj: Any) -> None:
        """Provide a ready object."""
        self._objects[name] = obj

    def register_factory(self, name: str, factory: Callable[[], Awaitable[Any]]) -> None:
        """Provide a coroutine factory, called once on first :meth:`get`."""
        self._factories[name] = factory

    def has(self, name: str) -> bool:
        """Whether ``name`` is available (ready or via a factory)."""
        return name in self._objects or name in self._factories

    async def get(self, name: str) -> Any:
        """The shared object called ``name``; raises KeyError if none is registered.

        Concurrent first calls share one factory run; if it fails, every waiter gets the error and
        the factory stays registered, so a later call tries again. If the caller running the
        factory is cancelled (a warm-up task stopped at shutdown), the others are not: the first of
        them runs the factory again, the rest wait for that run.
        """
        while True:
            if name in self._objects:
                return self._objects[name]
            pending = self._creating.get(name)
            if pending is None:
                return await self._create(name)
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                # The creator's cancel, not this caller's: try again (the creator's finally has
                # removed its run from _creating by now, so the loop starts a new one).
                if pending.cancelled() and not cancelling_this_task():
                    continue
                raise

    async def _create(self, name: str) -> Any:
        """Run ``name``'s factory, sharing its result (or error) with the callers waiting for it."""
        factory = self._factories[name]
        pending = asyncio.get_running_loop().create_future()
        self._creating[name] = pending
        try:
            obj = await factory()
        except asyncio.CancelledError:
            pending.cancel()
            raise
        except BaseException as exc:
            pending.set_exception(exc)
            pending.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        else:
            self._objects[name] = obj
            self._factories.pop(name, None)
            pending.set_result(obj)
            return obj
        finally:
            del self._creating[name]

    def peek(self, name: str) -> Any | None:
        """The object if it is already created, else None (never triggers a factory)."""
        return self._objects.get(name)


class BrainContext:
    """Everything a brain may use, and the way to act: replies are routed back to the platform
    the triggering event came from, because actions carry its channel / user refs."""

    def __init__(
        self,
        *,
        bus: EventBus,
        store: Store,
        settings: Settings,
        clock: Clock,
        services: Services,
        logger: logging.Logger | None = None,
    ) -> None:
        self.bus = bus
        self.store = store
        self.settings = settings
        self.clock = clock
        self.services = services
        self.log = logger or logging.getLogger("guildhall")

    async def is_forgotten(self, user: UserRef) -> bool:
        """Whether ``user`` asked to be forgotten (``/forget-me``), as the bus gate's set knows it:
        on Discord in every guild, also one joined since. For what the gate lets through (button
        clicks, events already queued when the member was forgotten)."""
        return self.services.has("forgotten") and user in await self.services.get("forgotten")

    async def any_forgotten(self, platform: str, workspace_id: str, user_ids: Iterable[str]) -> bool:
        """Whether any of ``user_ids`` (members of one workspace) asked to be forgotten, as this
        process's set knows it (:meth:`is_forgotten`) or as the store does (another process's
        ``/forget-me`` reaches this one's set within a minute). For what is about to be stored after
        a slow step, such as an answer generated while one of them was forgotten: ``/forget-me``
        marks the member before it erases what is stored, so a check made after the write misses
        nothing the erasure does not delete."""
        where = Platform(platform)
        for user_id in dict.fromkeys(user_ids):
            if await self.is_forgotten(UserRef(where, workspace_id, user_id)):
                return True
            if await self.store.get_member_setting(platform, workspace_id, user_id, "forgotten", False):
                return True
        return False

    async def removed_workspaces(self) -> set[tuple[str, str]]:
        """``(platform, workspace_id)`` of the workspaces the bot was removed from (kicked from a
        Discord server, Slack app uninstalled) and is not back in. Scheduled jobs that post or DM
        per workspace skip these: every post would fail, every tick. Read once per run."""
        return set(await removed_workspaces(self.store.db))

    async def send(self, action: Event) -> None:
        """Publish an outbound action."""
        await self.bus.publish(action)

    async def say(
        self,
        channel: ChannelRef,
        text: str,
        *,
        thread_id: str | None = None,
        citations: tuple[Citation, ...] = (),
        attachments: tuple[Attachment, ...] = (),
        buttons: tuple[Button, ...] = (),
    ) -> SendMessage:
        """Post in a channel (or thread); returns the action sent."""
        action = SendMessage(
            channel=channel,
            text=text,
            thread_id=thread_id,
            citations=citations,
            attachments=attachments,
            buttons=buttons,
        )
        await self.send(action)
        return action

    async def reply(
        self,
        event: MessagePosted,
        text: str,
        *,
        in_thread: bool = True,
        citations: tuple[Citation, ...] = (),
        attachments: tuple[Attachment, ...] = (),
        buttons: tuple[Button, ...] = (),
        notify: tuple[str, ...] = (),
    ) -> SendMessage:
        """Answer a message: in its thread (starting one from it when ``in_thread``); mentions of
        the members in ``notify`` notify them, any other stays inert."""
        thread_id = event.thread_id or (event.message_id if in_thread else None)
        action = SendMessage(
            channel=event.channel,
            text=text,
            thread_id=thread_id,
            citations=citations,
            attachments=attachments,
            buttons=buttons,
            reply_to=event.message_id,
            notify_user_ids=notify,
        )
        await self.send(action)
        return action

    async def answer(self, cmd: CommandInvoked, result: CommandResult) -> CommandReply:
        """Answer a command through its interaction."""
        action = CommandReply(
            command=cmd,
            text=result.text,
            ephemeral=result.ephemeral,
            citations=result.citations,
            attachments=result.attachments,
            buttons=result.buttons,
        )
        await self.send(action)
        return action

    async def dm(
        self,
        user: UserRef,
        text: str,
        *,
        citations: tuple[Citation, ...] = (),
        attachments: tuple[Attachment, ...] = (),
        buttons: tuple[Button, ...] = (),
    ) -> SendDirectMessage:
        """Send a direct message."""
        action = SendDirectMessage(user=user, text=text, citations=citations, attachments=attachments, buttons=buttons)
        await self.send(action)
        return action

    async def ephemeral(
        self, channel: ChannelRef, user: UserRef, text: str, *, response_ref: str = ""
    ) -> SendEphemeral:
        """Show a message to one member only; ``response_ref`` (a click's or command's) answers
        through that interaction (on Discord the only private path: without one it becomes a DM)."""
        action = SendEphemeral(channel=channel, user=user, text=text, response_ref=response_ref)
        await self.send(action)
        return action


def plural(count: int, noun: str) -> str:
    """``"1 member"``, ``"3 members"``: a count with its noun (regular plurals only)."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _setting(settings: Settings, path: str) -> Any:
    """The value at a dotted settings path (``"activity.leaderboard_post_time"``)."""
    obj: Any = settings
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


class Brain:
    """Base class: subclasses set ``name`` and decorate methods with @listen / @every / @command."""

    name: str = "brain"

    def __init__(self, ctx: BrainContext) -> None:
        # No I/O here: async work belongs in setup().
        self.ctx = ctx

    async def setup(self) -> None:
        """Async initialisation (create tables, load models lazily...)."""

    async def teardown(self) -> None:
        """Release resources."""

    async def forget_member(self, user: UserRef) -> dict[str, int]:
        """Delete everything this brain keeps about ``user`` (``/forget-me``); returns counts."""
        return {}

    async def purge_before(self, cutoff_ts: float, *, platform: str, workspace_id: str) -> int:
        """Drop derived data about one workspace's messages older than ``cutoff_ts`` (retention); returns a count."""
        return 0

    async def export_member(self, user: UserRef) -> dict[str, Any]:
        """Everything this brain keeps about ``user`` (data access request)."""
        return {}

    async def member_workspaces(self, platform: str, user_id: str) -> set[str]:
        """Workspaces of ``platform`` where this brain keeps rows about ``user_id`` (as asker, author,
        subject of a profile or counter): where a Discord member's privacy commands must act, beyond
        the workspaces where the store holds their messages, reactions, feedback or settings."""
        return set()

    async def retention_workspaces(self) -> set[tuple[str, str]]:
        """``(platform, workspace_id)`` pairs where this brain keeps rows that :meth:`purge_before`
        removes, beyond the workspaces that have stored messages (the retention sweep visits both)."""
        return set()

    async def status(self, platform: str, workspace_id: str) -> list[str]:
        """One-line facts for ``/guildhall status`` about this workspace (cheap: nothing is loaded
        for it)."""
        return []

    # -- introspection used by the app -----------------------------------------------------------
    def listeners(self) -> list[tuple[tuple[type[Event], ...], int, Callable[[Any], Awaitable[None]]]]:
        """``(event_types, concurrency, bound_method)`` for every @listen method."""
        found = []
        for attr in dir(type(self)):
            fn = getattr(type(self), attr, None)
            spec = getattr(fn, _LISTEN_ATTR, None)
            if spec is not None:
                found.append((spec[0], spec[1], getattr(self, attr)))
        return found

    def schedules(self, settings: Settings) -> list[tuple[str, Schedule, Callable[[], Awaitable[None]]]]:
        """``(job_name, schedule, bound_method)`` for every @every method."""
        found = []
        for attr in dir(type(self)):
            fn = getattr(type(self), attr, None)
            spec = getattr(fn, _EVERY_ATTR, None)
            if spec is None:
                continue
            minutes, hours, at, weekday, setting, one_worker, weekday_setting, catch_up = spec
            if setting:
                at = str(_setting(settings, setting))
            if weekday_setting:
                weekday = int(_setting(settings, weekday_setting))
            if at is not None:
                schedule = Schedule(at=parse_hhmm(at), weekday=weekday, one_worker=one_worker, catch_up=catch_up)
            else:
                schedule = Schedule(
                    interval=timedelta(minutes=minutes or 0, hours=hours or 0), one_worker=one_worker, catch_up=catch_up
                )
            found.append((f"{self.name}.{attr}", schedule, getattr(self, attr)))
        return found

    def commands(self) -> list[tuple[CommandSpec, Callable[[CommandInvoked], Awaitable[CommandResult | None]]]]:
        """``(spec, bound_method)`` for every @command method."""
        found = []
        for attr in dir(type(self)):
            fn = getattr(type(self), attr, None)
            spec = getattr(fn, _COMMAND_ATTR, None)
            if spec is not None:
                found.append((spec, getattr(self, attr)))
        return found
