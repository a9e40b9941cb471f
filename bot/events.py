"""Normalized events: the only language adapters and brains share.

Inbound *facts* are named in the past tense (``MessagePosted``); outbound *actions* are imperatives
(``SendMessage``). Every class is a frozen, slotted dataclass so events can be shared between tasks
without copying and hashed for de-duplication. Platform ids are always ``str``.

Every inbound event has a stable :pyattr:`Event.event_id` built from the platform, the workspace and
the platform's own id for the fact, so a redelivered event (Slack retries, gateway resumes, Redis
reclaims, re-imports) can be recognised and applied once.

:func:`to_json` / :func:`from_json` give a lossless JSON round-trip for every event type, which the
Redis Streams bus uses on the wire.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import types
import typing
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Union, get_args, get_origin, get_type_hints

_T = typing.TypeVar("_T")


def _fast_init(cls: type[_T]) -> type[_T]:
    """Give a frozen, slotted dataclass a faster ``__init__`` with the same signature and result.

    The generated ``__init__`` of a frozen dataclass stores each field with ``object.__setattr__``,
    which looks the slot up through the class on every call; calling each slot's descriptor
    directly does the same store in under half the time (1.4 vs 3.2 us for a MessagePosted here).
    Imports build one event per message, so this is ~5% of an import's main-thread time. Applied to
    the events built in bulk; ``tests/unit/core/test_events.py`` checks it against the original.
    """
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    env: dict[str, Any] = {"_cls_object_new": object.__new__, "_MISSING": dataclasses.MISSING}
    params: list[str] = []
    body: list[str] = []
    for f in fields:
        env[f"_set_{f.name}"] = cls.__dict__[f.name].__set__
        if f.default is not dataclasses.MISSING:
            env[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            env[f"_factory_{f.name}"] = f.default_factory
            params.append(f"{f.name}=_MISSING")
            body.append(f"    if {f.name} is _MISSING: {f.name} = _factory_{f.name}()")
        else:
            params.append(f.name)
        body.append(f"    _set_{f.name}(self, {f.name})")
    source = f"def __init__(self, {', '.join(params)}) -> None:\n" + "\n".join(body or ["    pass"]) + "\n"
    # Generated from the class's own field names, the way dataclasses builds ``__init__``.
    exec(source, env)
    init = env["__init__"]
    original = cls.__dict__["__init__"]
    init.__qualname__ = original.__qualname__
    init.__annotations__ = dict(original.__annotations__)
    init.__doc__ = original.__doc__
    init.__wrapped__ = original  # the dataclass-generated one, for the equivalence test
    setattr(cls, "__init__", init)  # noqa: B010 - mypy refuses a direct assignment to a method
    return cls


class Platform(enum.StrEnum):
    """Chat platforms Guildhall talks to."""

    DISCORD = "discord"
    SLACK = "slack"
    CONSOLE = "console"


class Visibility(enum.StrEnum):
    """Who can read a channel; drives access control in retrieval and recommendations.

    ``RESTRICTED``: the whole community reads it except members or roles a permission overwrite
    keeps out (Discord: an opt-out or unverified role, a member shut out). Its text never reaches an
    answer or recommendation for someone outside (it is not public there), but indexing and
    aggregates (leaderboards, trends) treat it as the community's, as they do public channels
    (:data:`COMMUNITY_VISIBILITIES`).
    """

    PUBLIC = "public"
    RESTRICTED = "restricted"
    PRIVATE = "private"
    DM = "dm"


# Channels the whole community reads, bar the few an overwrite keeps out (see Visibility).
COMMUNITY_VISIBILITIES = (Visibility.PUBLIC.value, Visibility.RESTRICTED.value)
# The same, for SQL: ``visibility IN {COMMUNITY_VISIBILITIES_SQL}``.
COMMUNITY_VISIBILITIES_SQL = "('public', 'restricted')"


class EventSource(enum.StrEnum):
    """Where an inbound event came from; brains may treat history differently from live traffic."""

    LIVE = "live"
    IMPORT = "import"
    BACKFILL = "backfill"


def utcnow() -> datetime:
    """Timezone-aware current UTC time."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class WorkspaceRef:
    """A Discord guild, a Slack team or the local console community."""

    platform: Platform
    workspace_id: str
    name: str = ""


@_fast_init
@dataclass(frozen=True, slots=True)
class UserRef:
    """A member of a workspace.

    ``tz`` is the member's IANA time zone ("America/Los_Angeles") when the platform tells us (Slack's
    ``users.info``); empty when unknown (Discord never does).
    """

    platform: Platform
    workspace_id: str
    user_id: str
    name: str = ""
    is_bot: bool = False
    # Not part of equality or the hash: a profile fact, not identity. The same member seen once
    # with a users.info lookup and once without must still be one member (sets, dict keys).
    tz: str = field(default="", compare=False)
    # A person of another organisation posting in a shared channel (Slack Connect): never sent the
    # workspace's digest or recommendations. None when the event does not say.
    external: bool | None = field(default=None, compare=False)
    # A guest (Slack single- or multi-channel guest): reads only the channels they are in, so their
    # answers and recommendations come from those alone. None when the event does not say.
    guest: bool | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        """Globally unique key ``platform:workspace:user``."""
        return f"{self.platform}:{self.workspace_id}:{self.user_id}"


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """A channel, thread parent, forum or DM conversation.

    ``allowed_user_ids`` / ``allowed_role_ids`` carry the access list of a private channel when the
    platform reveals it (Discord permission overwrites, Slack private-channel membership).
    ``visibility_known`` is False when the adapter could not tell (an uncached channel): the ref
    then says private, the safe side for whoever acts on the event, and the store keeps the
    visibility it already has for the channel instead of hiding a public one.
    ``denied_user_ids`` / ``denied_role_ids`` are members and roles a Discord permission overwrite
    keeps out even though the rest of the access list (or @everyone) lets them in; a member holding a
    denied role still reads the channel through one of ``override_role_ids`` (roles whose own
    overwrite lets them in: Discord applies role allows after role denies). A channel @everyone
    can view but some member or role cannot is readable by ``allowed_role_ids`` holding
    the @everyone role (whose id is the guild's), with visibility ``RESTRICTED``.
    ``shared_externally``: people of other organisations read it (a Slack Connect channel), so an
    answer posted there uses that channel's own history alone; ``None`` when the ref does not know
    (the store's word then counts).
    ``parent_id`` is the channel a Discord private thread opened in (the thread is a private channel
    of its own, so nothing else ties it to its parent): deleting the parent erases the thread too.
    ``None`` when there is none or it is unknown; events serialized before the field existed decode
    with ``None``.
    """

    platform: Platform
    workspace_id: str
    channel_id: str
    name: str = ""
    visibility: Visibility = Visibility.PUBLIC
    is_forum: bool = False
    allowed_user_ids: tuple[str, ...] = ()
    allowed_role_ids: tuple[str, ...] = ()
    visibility_known: bool = field(default=True, compare=False)
    # Not identity: the same thread seen with and without its parent is one channel.
    parent_id: str | None = field(default=None, compare=False)
    denied_user_ids: tuple[str, ...] = ()
    denied_role_ids: tuple[str, ...] = ()
    override_role_ids: tuple[str, ...] = ()
    # Not identity: a fact about the channel, and most refs do not know it.
    shared_externally: bool | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        """Globally unique key ``platform:workspace:channel``."""
        return f"{self.platform}:{self.workspace_id}:{self.channel_id}"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a message, e.g. a PNG chart."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Citation:
    """A numbered link under a message: a source of an answer, or a suggested thread.

    ``kind`` is ``"source"`` for the evidence an answer cites (adapters list those under a
    "Sources" heading) and ``"link"`` for threads the message itself introduces ("Threads you might
    like:"), which are listed without a heading of their own.
    """

    number: int
    title: str
    url: str
    snippet: str = ""
    note: str = ""
    kind: str = "source"


def citations_heading(citations: Sequence[Citation]) -> str:
    """The heading above a list of citations: "Sources" when any is an answer's source, else none."""
    return "Sources" if any(c.kind == "source" for c in citations) else ""


@dataclass(frozen=True, slots=True)
class Button:
    """An interactive button (Slack Block Kit / Discord component); clicks come back as ButtonClicked.

    ``url``: a page the click should open (a recommended thread). Slack opens it and still sends the
    click; on Discord a link button sends no interaction, so the adapter keeps a normal button and
    the brain answers the click with the link (see ``brain.recommend.brain.RecommendBrain.on_click``).
    """

    action_id: str
    label: str
    value: str = ""
    style: str = "default"
    url: str = ""


class Event:
    """Base of all events. Subclasses are frozen, slotted dataclasses registered by class name."""

    __slots__ = ()
    registry: ClassVar[dict[str, type[Event]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Event.registry[cls.__name__] = cls

    @property
    def event_id(self) -> str:  # pragma: no cover - overridden
        """Stable id: the same fact delivered twice has the same id."""
        raise NotImplementedError

    @property
    def platform(self) -> Platform:  # pragma: no cover - overridden
        """The platform this event belongs to."""
        raise NotImplementedError


class InboundEvent(Event):
    """A fact reported by an adapter or an importer."""

    __slots__ = ()


class Action(Event):
    """Something a brain asks an adapter to do."""

    __slots__ = ()


# --------------------------------------------------------------------------- inbound facts


@_fast_init
@dataclass(frozen=True, slots=True)
class MessagePosted(InboundEvent):
    """A chat message was posted (live, imported or backfilled).

    ``thread_id`` is the id of the thread root (Slack ``thread_ts``, Discord thread channel id) or
    ``None`` for an unthreaded message; a thread root has ``thread_id == message_id`` on Slack.
    ``reply_to`` is the message this one answers when the platform says so (Discord references).
    ``author_role_ids``: the author's roles where the adapter knows them and they matter (a Discord
    DM: their roles in the guilds shared with the bot, which open role-gated channels for the DM's
    answer as they do for ``/ask``); empty when unknown.
    """

    channel: ChannelRef
    author: UserRef
    message_id: str
    text: str
    ts: datetime
    thread_id: str | None = None
    reply_to: str | None = None
    mentions_bot: bool = False
    mentioned_user_ids: tuple[str, ...] = ()
    permalink: str = ""
    subtype: str = ""
    source: EventSource = EventSource.LIVE
    author_role_ids: tuple[str, ...] = ()

    @property
    def event_id(self) -> str:
        return f"{self.channel.platform}:{self.channel.workspace_id}:msg:{self.message_id}"

    @property
    def platform(self) -> Platform:
        return self.channel.platform

    @property
    def is_bot(self) -> bool:
        """True for messages by bots (including ourselves): brains ignore them."""
        return self.author.is_bot


@_fast_init
@dataclass(frozen=True, slots=True)
class MessageEdited(InboundEvent):
    """A message's text changed. Raw edit events may arrive for uncached messages."""

    channel: ChannelRef
    message_id: str
    text: str
    edited_at: datetime
    author: UserRef | None = None
    thread_id: str | None = None

    @property
    def event_id(self) -> str:
        stamp = self.edited_at.isoformat()
        return f"{self.channel.platform}:{self.channel.workspace_id}:edit:{self.message_id}:{stamp}"

    @property
    def platform(self) -> Platform:
        return self.channel.platform


@dataclass(frozen=True, slots=True)
class MessageDeleted(InboundEvent):
    """A message was deleted: its text must disappear from the store and the index."""

    channel: ChannelRef
    message_id: str
    deleted_at: datetime = field(default_factory=utcnow)

    @property
    def event_id(self) -> str:
        return f"{self.channel.platform}:{self.channel.workspace_id}:del:{self.message_id}"

    @property
    def platform(self) -> Platform:
        return self.channel.platform


@_fast_init
@dataclass(frozen=True, slots=True)
class ReactionAdded(InboundEvent):
    """A member reacted to a message. ``emoji`` is a name (``white_check_mark``) or a unicode char."""

    channel: ChannelRef
    message_id: str
    user: UserRef
    emoji: str
    ts: datetime = field(default_factory=utcnow)
    message_author_id: str | None = None
    source: EventSource = EventSource.LIVE

    @property
    def event_id(self) -> str:
        # With the time, as a removal has it: a member who takes a reaction back and adds it again
        # (👍 → 👎 → 👍 on an answer) adds it again, and that add must not be dropped as a duplicate
        # of the first. A redelivery keeps its time (Slack's event_ts; an import's message time);
        # a Discord reaction carries none, so its rare replay after a RESUME gets through, and is
        # stored once (the reactions table, the counters and feedback are keyed by who, what, where).
        return (
            f"{self.channel.platform}:{self.channel.workspace_id}:react+:"
            f"{self.message_id}:{self.user.user_id}:{self.emoji}:{self.ts.isoformat()}"
        )

    @property
    def platform(self) -> Platform:
        return self.channel.platform


@dataclass(frozen=True, slots=True)
class ReactionRemoved(InboundEvent):
    """A member removed a reaction."""

    channel: ChannelRef
    message_id: str
    user: UserRef
    emoji: str
    ts: datetime = field(default_factory=utcnow)

    @property
    def event_id(self) -> str:
        return (
            f"{self.channel.platform}:{self.channel.workspace_id}:react-:"
            f"{self.message_id}:{self.user.user_id}:{self.emoji}:{self.ts.isoformat()}"
        )

    @property
    def platform(self) -> Platform:
        return self.channel.platform


@dataclass(frozen=True, slots=True)
class MemberJoined(InboundEvent):
    """A member joined the workspace (``channel is None``) or a channel.

    ``source``: IMPORT for a join an export replays (Discord's GuildMemberJoin, Slack's
    channel_join): history, which still updates access lists and member records but is no moment
    to greet anyone. Left out of ``event_id``, so a join seen live and imported later is one fact.
    """

    user: UserRef
    ts: datetime
    channel: ChannelRef | None = None
    source: EventSource = EventSource.LIVE

    @property
    def event_id(self) -> str:
        where = self.channel.channel_id if self.channel else "-"
        # With the time (the platform's, so a redelivery keeps it): a member who leaves and comes
        # back joins again, and that second join must not be dropped as a duplicate of the first.
        return f"{self.user.platform}:{self.user.workspace_id}:join:{where}:{self.user.user_id}:{self.ts.isoformat()}"

    @property
    def platform(self) -> Platform:
        return self.user.platform


@dataclass(frozen=True, slots=True)
class MemberLeft(InboundEvent):
    """A member left the workspace (left or was removed from a guild, deactivated on Slack): no
    more digests or DMs until they join again. Their history stays (``/forget-me`` erases it)."""

    user: UserRef
    ts: datetime

    @property
    def event_id(self) -> str:
        # With the time: leaving, rejoining and leaving again are three facts, not one repeated.
        return f"{self.user.platform}:{self.user.workspace_id}:left:{self.user.user_id}:{self.ts.isoformat()}"

    @property
    def platform(self) -> Platform:
        return self.user.platform


@dataclass(frozen=True, slots=True)
class MemberLeftChannel(InboundEvent):
    """A member left (or was removed from) a private channel: they no longer read it. Not a
    :class:`MemberLeft` with a channel: a reader of an older version would decode that as leaving
    the workspace (unknown fields are dropped) and stop the member's digests; an unknown type it
    refuses instead."""

    user: UserRef
    ts: datetime
    channel: ChannelRef

    @property
    def event_id(self) -> str:
        return (
            f"{self.user.platform}:{self.user.workspace_id}:leftchan:{self.channel.channel_id}:"
            f"{self.user.user_id}:{self.ts.isoformat()}"
        )

    @property
    def platform(self) -> Platform:
        return self.user.platform


@dataclass(frozen=True, slots=True)
class MemberUpdated(InboundEvent):
    """A member's profile changed (display name, time zone): Slack's ``user_change``."""

    user: UserRef
    ts: datetime

    @property
    def event_id(self) -> str:
        return f"{self.user.platform}:{self.user.workspace_id}:profile:{self.user.user_id}:{self.ts.isoformat()}"

    @property
    def platform(self) -> Platform:
        return self.user.platform


@dataclass(frozen=True, slots=True)
class ThreadCreated(InboundEvent):
    """A thread or forum post was opened under ``parent``."""

    parent: ChannelRef
    thread_id: str
    title: str
    author: UserRef
    ts: datetime
    is_forum_post: bool = False
    source: EventSource = EventSource.LIVE

    @property
    def event_id(self) -> str:
        return f"{self.parent.platform}:{self.parent.workspace_id}:thread:{self.thread_id}"

    @property
    def platform(self) -> Platform:
        return self.parent.platform


@dataclass(frozen=True, slots=True)
class ChannelSeen(InboundEvent):
    """An adapter learned a channel's name, visibility or access list (guild cache, channels.json).

    ``workspace_name``: the guild's / team's name when the adapter knows it (empty keeps the stored
    one); digests and reports name the community with it. ``source``: IMPORT when an export file
    named the channel, which says nothing about the bot being in the workspace now.
    """

    channel: ChannelRef
    ts: datetime = field(default_factory=utcnow)
    member_ids: tuple[str, ...] = ()
    workspace_name: str = ""
    source: EventSource = EventSource.LIVE

    @property
    def event_id(self) -> str:
        return (
            f"{self.channel.platform}:{self.channel.workspace_id}:chan:{self.channel.channel_id}:{self.ts.isoformat()}"
        )

    @property
    def platform(self) -> Platform:
        return self.channel.platform


@dataclass(frozen=True, slots=True)
class CommandInvoked(InboundEvent):
    """A slash command (or its console equivalent) was invoked.

    ``name`` is the command path without the slash (``ask``, ``guildhall index``); ``options`` the
    parsed arguments; ``text`` the raw argument string. ``interaction_id`` is the platform's id for
    the invocation (Discord interaction id, Slack trigger id) and ``response_ref`` an opaque handle
    the adapter uses to answer it (interaction token, ``response_url``).
    ``is_platform_admin`` and ``role_ids`` are facts gathered by the adapter; the decision whether
    the user may run an admin command is taken in :mod:`bot.permissions`. ``is_platform_admin`` is
    None when the platform could not say (a failed Slack lookup): no rights, but no refusal either.
    """

    name: str
    user: UserRef
    channel: ChannelRef
    interaction_id: str
    ts: datetime
    text: str = ""
    options: tuple[tuple[str, str], ...] = ()
    response_ref: str = ""
    is_platform_admin: bool | None = False
    role_ids: tuple[str, ...] = ()
    thread_id: str | None = None

    @property
    def event_id(self) -> str:
        return f"{self.channel.platform}:{self.channel.workspace_id}:cmd:{self.interaction_id}"

    @property
    def platform(self) -> Platform:
        return self.channel.platform

    def option(self, key: str, default: str = "") -> str:
        """Return a named option's value, or ``default``."""
        for name, value in self.options:
            if name == key:
                return value
        return default


@dataclass(frozen=True, slots=True)
class ButtonClicked(InboundEvent):
    """A member clicked a button we rendered (feedback, mark solved, approve draft...).

    ``is_platform_admin`` and ``role_ids`` are the clicker's admin facts, as on
    :class:`CommandInvoked`: a button that acts for admins (approve a draft) is decided in
    :mod:`bot.permissions` like an admin command.
    """

    action_id: str
    value: str
    user: UserRef
    channel: ChannelRef
    message_id: str
    interaction_id: str
    ts: datetime = field(default_factory=utcnow)
    response_ref: str = ""
    is_platform_admin: bool = False
    role_ids: tuple[str, ...] = ()

    @property
    def event_id(self) -> str:
        return f"{self.channel.platform}:{self.channel.workspace_id}:click:{self.interaction_id}"

    @property
    def platform(self) -> Platform:
        return self.channel.platform


# --------------------------------------------------------------------------- outbound actions


def _new_action_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class SendMessage(Action):
    """Post a message in a channel, or in a thread when ``thread_id`` is set.

    ``notify_user_ids``: the members a mention in ``text`` is meant to notify (an expert nudge).
    Every other member mention stays inert: quoted history or model output must not ping anyone.
    """

    channel: ChannelRef
    text: str
    thread_id: str | None = None
    attachments: tuple[Attachment, ...] = ()
    citations: tuple[Citation, ...] = ()
    buttons: tuple[Button, ...] = ()
    reply_to: str | None = None
    action_id: str = field(default_factory=_new_action_id)
    notify_user_ids: tuple[str, ...] = ()

    @property
    def event_id(self) -> str:
        return f"action:{self.action_id}"

    @property
    def platform(self) -> Platform:
        return self.channel.platform


@dataclass(frozen=True, slots=True)
class SendDirectMessage(Action):
    """Send a DM to a member (digests, confirmations)."""

    user: UserRef
    text: str
    attachments: tuple[Attachment, ...] = ()
    citations: tuple[Citation, ...] = ()
    buttons: tuple[Button, ...] = ()
    action_id: str = field(default_factory=_new_action_id)

    @property
    def event_id(self) -> str:
        return f"action:{self.action_id}"

    @property
    def platform(self) -> Platform:
        return self.user.platform


@dataclass(frozen=True, slots=True)
class SendEphemeral(Action):
    """Show a message only to ``user`` in ``channel``.

    When ``response_ref`` is set the adapter answers the command interaction it came from (Discord
    follow-up, Slack ``response_url``); otherwise it uses the platform's ephemeral API.
    """

    channel: ChannelRef
    user: UserRef
    text: str
    response_ref: str = ""
    attachments: tuple[Attachment, ...] = ()
    citations: tuple[Citation, ...] = ()
    buttons: tuple[Button, ...] = ()
    action_id: str = field(default_factory=_new_action_id)

    @property
    def event_id(self) -> str:
        return f"action:{self.action_id}"

    @property
    def platform(self) -> Platform:
        return self.channel.platform


@dataclass(frozen=True, slots=True)
class CommandReply(Action):
    """Answer a slash command publicly (``ephemeral=False``) or privately, via its interaction."""

    command: CommandInvoked
    text: str
    ephemeral: bool = True
    attachments: tuple[Attachment, ...] = ()
    citations: tuple[Citation, ...] = ()
    buttons: tuple[Button, ...] = ()
    action_id: str = field(default_factory=_new_action_id)

    @property
    def event_id(self) -> str:
        return f"action:{self.action_id}"

    @property
    def platform(self) -> Platform:
        return self.command.platform


@dataclass(frozen=True, slots=True)
class AddReaction(Action):
    """React to a message."""

    channel: ChannelRef
    message_id: str
    emoji: str
    action_id: str = field(default_factory=_new_action_id)

    @property
    def event_id(self) -> str:
        return f"action:{self.action_id}"

    @property
    def platform(self) -> Platform:
        return self.channel.platform


@dataclass(frozen=True, slots=True)
class MarkThreadSolved(Action):
    """Show that a thread is solved: Discord forum posts get the forum's "Solved" tag (when it
    exists); elsewhere adapters add a ✅ reaction on the thread's first message."""

    channel: ChannelRef
    thread_id: str
    accepted_message_id: str = ""
    action_id: str = field(default_factory=_new_action_id)

    @property
    def event_id(self) -> str:
        return f"action:{self.action_id}"

    @property
    def platform(self) -> Platform:
        return self.channel.platform


@dataclass(frozen=True, slots=True)
class ChannelDeleted(InboundEvent):
    """A channel (or a Discord thread, which is a channel of its own) was deleted on the platform.

    Its messages are gone for the members too, so they must stop being stored as live text and stop
    being cited: the recorder erases them, as it would one :class:`MessageDeleted` each.
    """

    channel: ChannelRef
    ts: datetime = field(default_factory=utcnow)

    @property
    def event_id(self) -> str:
        # One deletion per channel id: a redelivery is the same fact whatever its timestamp.
        return f"{self.channel.platform}:{self.channel.workspace_id}:chandel:{self.channel.channel_id}"

    @property
    def platform(self) -> Platform:
        return self.channel.platform


@dataclass(frozen=True, slots=True)
class WorkspaceRemoved(InboundEvent):
    """The bot was removed from a workspace: kicked from a Discord server (or the server was
    deleted), the Slack app uninstalled or its bot token revoked.

    Nothing can be posted or DMed there any more, so scheduled jobs (digests, leaderboards, trend
    alerts) skip the workspace until the bot is back: the recorder notes the removal and clears it at
    the first live fact from the workspace newer than ``ts`` (a Discord server joined again, a
    message or command after a reinstall). The stored history stays until retention purges it.
    ``reason`` says what happened, in words, for the log.
    """

    workspace: WorkspaceRef
    ts: datetime = field(default_factory=utcnow)
    reason: str = ""

    @property
    def event_id(self) -> str:
        # With the time: removed, back and removed again are separate facts (a redelivery keeps it).
        return f"{self.workspace.platform}:{self.workspace.workspace_id}:removed:{self.ts.isoformat()}"

    @property
    def platform(self) -> Platform:
        return self.workspace.platform


@dataclass(frozen=True, slots=True)
class WorkspaceInstalled(InboundEvent):
    """The bot is (again) in a workspace at ``ts``: the Slack app was installed through the OAuth
    flow, or the bot token of a single-workspace deployment passed ``auth.test`` at start.

    The recorder treats it as presence: a :class:`WorkspaceRemoved` older than ``ts`` is cleared at
    once, so scheduled jobs post there again without waiting for the workspace's next message (a
    quiet workspace could wait days, its digests skipped). ``workspace.name`` (the team's name, when
    known) is stored like :class:`ChannelSeen`'s ``workspace_name``. ``reason`` says how the bot
    came to be there, in words, for the log.
    """

    workspace: WorkspaceRef
    ts: datetime = field(default_factory=utcnow)
    reason: str = ""

    @property
    def event_id(self) -> str:
        # With the time: installed, removed and installed again are separate facts.
        return f"{self.workspace.platform}:{self.workspace.workspace_id}:installed:{self.ts.isoformat()}"

    @property
    def platform(self) -> Platform:
        return self.workspace.platform


@dataclass(frozen=True, slots=True)
class WorkspacesConnected(InboundEvent):
    """An adapter finished connecting and names every workspace it is in (Discord: ``on_ready``).

    A removal while the bot was offline (a Discord kick during a restart or an outage of ours) is
    never announced: the guild is simply missing from the next READY. The recorder marks each
    stored workspace this connection :meth:`covers` and does not name as removed, as
    :class:`WorkspaceRemoved` does; one already marked keeps its first removal time.

    ``workspace_ids``: every guild the connection lists, including those Discord reports
    unavailable (an outage on Discord's side is not a kick). ``shard_count`` / ``shard_ids``:
    which share of the bot's guilds this connection sees; a guild belongs to shard
    ``(guild_id >> 22) % shard_count`` (Discord's formula), and a process that runs shards 0 and 1
    of 4 says nothing about the guilds of shards 2 and 3. Unsharded: 1 and ``(0,)``.
    """

    adapter: Platform  # which adapter connected (``platform`` is the base class's property)
    workspace_ids: tuple[str, ...]
    shard_count: int = 1
    shard_ids: tuple[int, ...] = (0,)
    ts: datetime = field(default_factory=utcnow)

    @property
    def event_id(self) -> str:
        # Each connection is its own fact (a reconnect lists the guilds again); a redelivery keeps it.
        shards = ",".join(map(str, self.shard_ids))
        return f"{self.adapter}:connected:{shards}/{self.shard_count}:{self.ts.isoformat()}"

    @property
    def platform(self) -> Platform:
        return self.adapter

    def covers(self, workspace_id: str) -> bool:
        """Whether this connection would list ``workspace_id`` if the bot were in it: a guild id of
        one of its shards. Ids that are not snowflakes (Discord's DM pseudo-workspace ``@me``) are
        never covered: no connection lists them, and they cannot be left."""
        if not workspace_id.isdigit():
            return False
        return (int(workspace_id) >> 22) % max(self.shard_count, 1) in self.shard_ids


INBOUND_TYPES: tuple[type[InboundEvent], ...] = (
    MessagePosted,
    MessageEdited,
    MessageDeleted,
    ReactionAdded,
    ReactionRemoved,
    MemberJoined,
    MemberLeft,
    MemberLeftChannel,
    MemberUpdated,
    ThreadCreated,
    ChannelSeen,
    ChannelDeleted,
    WorkspaceRemoved,
    WorkspaceInstalled,
    WorkspacesConnected,
    CommandInvoked,
    ButtonClicked,
)
ACTION_TYPES: tuple[type[Action], ...] = (
    SendMessage,
    SendDirectMessage,
    SendEphemeral,
    CommandReply,
    AddReaction,
    MarkThreadSolved,
)


# --------------------------------------------------------------------------- JSON round-trip


class EventDecodeError(ValueError):
    """Raised when a JSON payload is not a valid event."""


def to_dict(event: Event) -> dict[str, Any]:
    """Encode an event as a JSON-compatible dict with a ``type`` tag."""
    if not dataclasses.is_dataclass(event):
        raise TypeError(f"not an event dataclass: {type(event).__name__}")
    body = _encode(event)
    assert isinstance(body, dict)
    return {"type": type(event).__name__, **body}


def to_json(event: Event) -> str:
    """Encode an event as compact JSON (the wire format of the Redis bus)."""
    return json.dumps(to_dict(event), ensure_ascii=False, separators=(",", ":"))


def from_dict(data: dict[str, Any]) -> Event:
    """Decode a dict produced by :func:`to_dict`."""
    try:
        type_name = data["type"]
        cls = Event.registry[type_name]
    except (KeyError, TypeError) as exc:
        raise EventDecodeError(f"unknown or missing event type: {data.get('type')!r}") from exc
    if cls in (InboundEvent, Action) or not dataclasses.is_dataclass(cls):
        raise EventDecodeError(f"not a concrete event type: {type_name!r}")
    body = {k: v for k, v in data.items() if k != "type"}
    try:
        value = _decode(cls, body)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, RecursionError) as exc:
        raise EventDecodeError(f"invalid {type_name}: {exc}") from exc
    if not isinstance(value, Event):
        raise EventDecodeError(f"invalid {type_name}: decoded to {type(value).__name__}")
    return value


def from_json(payload: str | bytes) -> Event:
    """Decode JSON produced by :func:`to_json`; raises :class:`EventDecodeError` on bad input."""
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError) as exc:  # bad JSON, bytes that are not UTF-8, absurd nesting
        raise EventDecodeError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise EventDecodeError("event JSON must be an object")
    return from_dict(data)


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encoder_for(type(value))(value)
    return _encode_leaf(value)


def _encode_leaf(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (tuple, list)):
        return [_encode(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encoder_for(type(value))(value)
    return value


_PLAIN = (str, int, float, bool, type(None))
_ENCODERS: dict[type, Callable[[Any], dict[str, Any]]] = {}


def _encoder_for(cls: type) -> Callable[[Any], dict[str, Any]]:
    """A per-class encoder: plain fields are copied, others go through :func:`_encode_leaf`.

    Compiled once per class because the bus encodes every event it carries.
    """
    encoder = _ENCODERS.get(cls)
    if encoder is None:
        names = [f.name for f in dataclasses.fields(cls)]

        def encoder(obj: Any, _names: list[str] = names) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name in _names:
                v = getattr(obj, name)
                out[name] = v if isinstance(v, _PLAIN) and not isinstance(v, enum.Enum) else _encode_leaf(v)
            return out

        _ENCODERS[cls] = encoder
    return encoder


Decoder = Callable[[Any], Any]
_DECODERS: dict[Any, Decoder] = {}


def _decode(tp: Any, raw: Any) -> Any:
    return _decoder_for(tp)(raw)


def _decoder_for(tp: Any) -> Decoder:
    """Build (once per type) a function turning JSON data into a value of type ``tp``."""
    cached = _DECODERS.get(tp)
    if cached is None:
        cached = _build_decoder(tp)
        _DECODERS[tp] = cached
    return cached


def _build_decoder(tp: Any) -> Decoder:
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        inner = _decoder_for(next(a for a in get_args(tp) if a is not type(None)))
        return lambda raw: None if raw is None else inner(raw)
    if origin is tuple:
        items = get_args(tp)
        if len(items) == 2 and items[1] is Ellipsis:
            item = _decoder_for(items[0])

            def var_tuple(raw: Any) -> Any:
                if not isinstance(raw, list):
                    raise TypeError(f"expected a list for {tp}, got {type(raw).__name__}")
                return tuple(item(v) for v in raw)

            return var_tuple
        parts = [_decoder_for(a) for a in items]

        def fixed_tuple(raw: Any) -> Any:
            if not isinstance(raw, list):
                raise TypeError(f"expected a list for {tp}, got {type(raw).__name__}")
            return tuple(d(v) for d, v in zip(parts, raw, strict=True))

        return fixed_tuple
    if origin is typing.Literal:
        return lambda raw: raw
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = get_type_hints(tp)
        fields = [(f.name, _decoder_for(hints[f.name])) for f in dataclasses.fields(tp)]
        cls = tp

        def dataclass_decoder(raw: Any) -> Any:
            if not isinstance(raw, dict):
                raise TypeError(f"expected an object for {cls.__name__}")
            return cls(**{name: dec(raw[name]) for name, dec in fields if name in raw})

        return dataclass_decoder
    if tp is datetime:

        def decode_datetime(raw: Any) -> datetime:
            if not isinstance(raw, str):
                raise TypeError("expected an ISO timestamp")
            parsed = datetime.fromisoformat(raw)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

        return decode_datetime
    if tp is bytes:
        return lambda raw: base64.b64decode(raw)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return lambda raw: tp(raw)
    if tp is bool:

        def decode_bool(raw: Any) -> bool:
            if not isinstance(raw, bool):
                raise TypeError("expected a boolean")
            return raw

        return decode_bool
    if tp in (str, int, float):

        def decode_scalar(raw: Any) -> Any:
            if tp is float and isinstance(raw, int) and not isinstance(raw, bool):
                return float(raw)
            if not isinstance(raw, tp) or isinstance(raw, bool):
                raise TypeError(f"expected {tp.__name__}, got {type(raw).__name__}")
            return raw

        return decode_scalar
    return lambda raw: raw
