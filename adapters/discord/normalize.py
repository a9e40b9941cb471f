"""Pure translation of discord.py models and raw gateway events into :mod:`bot.events`.

discord.py parses the gateway payloads (``discord.state.ConnectionState.parse_*``); these functions
only read the resulting objects, so they are deterministic and do no I/O. Snowflakes become ``str``.
Threads are reported under their parent channel with ``thread_id`` = the thread's id, so a forum
post's starter message and the replies in a thread share one conversation key.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import discord

from bot.events import (
    ChannelDeleted,
    ChannelRef,
    ChannelSeen,
    EventSource,
    MemberJoined,
    MemberLeft,
    MemberLeftChannel,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    Platform,
    ReactionAdded,
    ReactionRemoved,
    ThreadCreated,
    UserRef,
    Visibility,
    WorkspacesConnected,
)

# DMs belong to no guild; Discord's own URLs use ``@me`` for them, so do we.
DM_WORKSPACE = "@me"
# Message types that are people talking; everything else (pins, joins, boosts...) is a system notice.
CHAT_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})
# ``MessagePosted.subtype`` of a forwarded message (its text is the forwarded message's).
FORWARD_SUBTYPE = "forward"

AnyChannel = Any  # discord.py's channel union is wide; the functions duck-type what they read


def workspace_id(guild: discord.Guild | None) -> str:
    """The guild id as ``str``, or :data:`DM_WORKSPACE` outside guilds."""
    return str(guild.id) if guild is not None else DM_WORKSPACE


def user_ref(user: discord.abc.User | discord.Member, guild_id: str, *, self_id: int | None = None) -> UserRef:
    """A :class:`UserRef`; our own account counts as a bot so brains never answer themselves."""
    is_bot = bool(getattr(user, "bot", False)) or (self_id is not None and user.id == self_id)
    return UserRef(Platform.DISCORD, guild_id, str(user.id), getattr(user, "display_name", "") or user.name, is_bot)


def member_role_ids(user: discord.abc.User | discord.Member) -> tuple[str, ...]:
    """The member's role ids, @everyone included, where discord.py knows them, else ``()``.

    In a guild, the roles of ``user`` there. In a DM, the roles of every cached member of the same
    account in guilds shared with the bot: a DM question is answered from the member's guild
    (``brain.qa.access.scope_for``) and these open its role-gated channels. Role ids are snowflakes,
    unique across guilds, so a guild's access lists only ever match its own roles. @everyone (whose
    id is the guild's) says the roles of that guild are known: without it a channel that denies a
    role stays closed, since the member may hold it (:meth:`bot.store.Store.readable_channel_ids`).
    Guilds whose member is not cached contribute nothing.
    """
    if isinstance(user, discord.Member):
        return _held_role_ids(user)
    if not isinstance(user, discord.User):
        return ()
    roles = {
        role_id
        for guild in user.mutual_guilds
        if (member := guild.get_member(user.id)) is not None
        for role_id in _held_role_ids(member)
    }
    return tuple(sorted(roles))


def _held_role_ids(member: discord.Member) -> tuple[str, ...]:
    """Every role id the member holds, @everyone included. ``Member.roles`` drops roles missing from
    the guild's cache, and a denied role must never be missed once the roles count as known; the
    gateway's own list (``_roles``) has them all."""
    raw = getattr(member, "_roles", None)
    ids = {str(r.id) for r in member.roles}
    if raw is not None:
        ids |= {str(role_id) for role_id in raw}
    ids.add(str(member.guild.id))
    return tuple(sorted(ids))


def _is_role(target: Any) -> bool:
    if isinstance(target, discord.Role):
        return True
    return isinstance(target, discord.Object) and target.type is discord.Role


def is_private_thread(channel: AnyChannel) -> bool:
    """True for a private thread: only its members (and moderators) read it, not the parent's readers."""
    return isinstance(channel, discord.Thread) and channel.type is discord.ChannelType.private_thread


def private_thread_ref(thread: discord.Thread) -> ChannelRef:
    """A private thread as a private channel of its own, open to its owner and the members
    discord.py has cached; the recorder adds everyone who posts in it. Members who only read stay
    out, so answers and recommendations err on the side of showing less. The parent's id goes along
    (always in the payload, cached or not): when the parent is deleted, Discord sends no delete for
    its threads, and the store erases the private threads it recorded under it. Discord shows a
    private thread only to those who can view its parent, so the parent's overwrite denials (when
    the parent is cached) go along: a member an overwrite shuts out of the parent is out of it too."""
    members = {str(m.id) for m in thread.members}
    parent = thread.parent
    denied_users: list[str] = []
    denied_roles: list[str] = []
    override_roles: list[str] = []
    if parent is not None and hasattr(parent, "overwrites"):
        denied_users, denied_roles, override_roles = _overwrite_denials(parent, thread.guild)
    if thread.owner_id is not None:
        members.add(str(thread.owner_id))
    return ChannelRef(
        Platform.DISCORD,
        str(thread.guild.id),
        str(thread.id),
        thread.name,
        Visibility.PRIVATE,
        allowed_user_ids=tuple(sorted(members)),
        parent_id=str(thread.parent_id),
        denied_user_ids=tuple(sorted(denied_users)),
        denied_role_ids=tuple(sorted(denied_roles)),
        override_role_ids=tuple(sorted(override_roles)),
    )


def channel_ref(channel: AnyChannel, *, parent: AnyChannel | None = None) -> ChannelRef:
    """The :class:`ChannelRef` of a guild channel, a DM, or (for a public thread) its parent channel.

    A channel the @everyone role cannot view is private; the roles and members its permission
    overwrites let in are kept so retrieval can filter answers by who may read them. A channel
    @everyone views but an overwrite hides from some member or role is restricted (see
    :class:`~bot.events.Visibility`), with those it keeps out. A private
    thread is a private channel of its own (:func:`private_thread_ref`). ``parent`` stands in for
    a thread's uncached parent (REST backfill).
    """
    if isinstance(channel, discord.Thread):
        if is_private_thread(channel):
            return private_thread_ref(channel)
        parent = parent if parent is not None else channel.parent
        if parent is None:
            # The parent is not cached (REST-only backfill, or a gateway cache miss): keep the ids,
            # and never guess public: the next ChannelSeen (guild ready, channel update) says.
            return ChannelRef(
                Platform.DISCORD,
                str(channel.guild.id),
                str(channel.parent_id),
                "",
                Visibility.PRIVATE,
                visibility_known=False,
            )
        channel = parent
    guild = getattr(channel, "guild", None)
    if guild is None:
        if isinstance(channel, (discord.DMChannel, discord.GroupChannel)):
            return ChannelRef(Platform.DISCORD, DM_WORKSPACE, str(channel.id), "", Visibility.DM)
        return ChannelRef(Platform.DISCORD, DM_WORKSPACE, str(channel.id))
    name = getattr(channel, "name", "") or ""
    is_forum = isinstance(channel, discord.ForumChannel)
    if not hasattr(channel, "permissions_for") or isinstance(channel, discord.PartialMessageable):
        # Who may read it is unknown (an uncached channel): private until a ChannelSeen says otherwise,
        # as on Slack, so a cache miss can never turn a private channel public in the store (nor a
        # public one private: the store keeps what it knows of a ref whose visibility is not known).
        return ChannelRef(
            Platform.DISCORD, str(guild.id), str(channel.id), name, Visibility.PRIVATE, is_forum, visibility_known=False
        )
    if guild.default_role is None:
        # A guild discord.py has not cached (still unavailable after READY, or an app added with the
        # applications.commands scope but not the bot's): a stand-in without roles, so who may read
        # the channel cannot be worked out. Private and unknown, like an uncached channel.
        return ChannelRef(
            Platform.DISCORD, str(guild.id), str(channel.id), name, Visibility.PRIVATE, is_forum, visibility_known=False
        )
    denied_users, denied_roles, override_roles = _overwrite_denials(channel, guild)
    if channel.permissions_for(guild.default_role).view_channel:
        if not denied_users and not denied_roles:
            return ChannelRef(Platform.DISCORD, str(guild.id), str(channel.id), name, Visibility.PUBLIC, is_forum)
        # Everyone reads it but someone an overwrite keeps out (an unverified or opt-out role, a
        # member shut out): restricted, open to @everyone (the role whose id is the guild's) minus
        # the denied, so an answer posted where they read never quotes it.
        visibility = Visibility.RESTRICTED
        roles = [str(guild.id), *override_roles]
    else:
        visibility = Visibility.PRIVATE
        # A role reads the channel through its server permissions or an overwrite: on rules-gated
        # servers @everyone views nothing and a "Member" role views every channel without one.
        roles = [str(r.id) for r in guild.roles if not r.is_default() and channel.permissions_for(r).view_channel]
        roles += [r for r in override_roles if guild.get_role(int(r)) is None]  # uncached: trust its overwrite
    return ChannelRef(
        Platform.DISCORD,
        str(guild.id),
        str(channel.id),
        name,
        visibility,
        is_forum,
        tuple(sorted(_overwrite_allowed_users(channel))),
        tuple(sorted(set(roles))),
        denied_user_ids=tuple(sorted(denied_users)),
        denied_role_ids=tuple(sorted(denied_roles)),
        override_role_ids=tuple(sorted(override_roles)),
    )


def _overwrite_allowed_users(channel: AnyChannel) -> list[str]:
    """Members a permission overwrite of their own lets view ``channel``."""
    return [
        str(target.id)
        for target, overwrite in channel.overwrites.items()
        if overwrite.view_channel and not _is_role(target)
    ]


def _overwrite_denials(channel: AnyChannel, guild: discord.Guild) -> tuple[list[str], list[str], list[str]]:
    """``(denied members, denied roles, roles let in by their own overwrite)`` of ``channel``.

    Discord resolves a member's view of a channel as: their roles' server permissions, then the
    @everyone overwrite, then every role overwrite of theirs (denies first, then allows: one role's
    allow beats another's deny), then their own overwrite. @everyone's overwrite is the baseline
    (:func:`channel_ref` reads it through ``permissions_for``), so it is left out here.
    """
    denied_users: list[str] = []
    denied_roles: list[str] = []
    override_roles: list[str] = []
    for target, overwrite in channel.overwrites.items():
        if target.id == guild.id or overwrite.view_channel is None:
            continue
        if _is_role(target):
            (override_roles if overwrite.view_channel else denied_roles).append(str(target.id))
        elif not overwrite.view_channel:
            denied_users.append(str(target.id))
    return denied_users, denied_roles, override_roles


def thread_id_of(channel: AnyChannel) -> str | None:
    """The thread id when ``channel`` is a thread, else ``None``."""
    return str(channel.id) if isinstance(channel, discord.Thread) else None


def is_chat(message: discord.Message) -> bool:
    """True for messages people wrote; pins, joins and other system notices are not chat."""
    return message.type in CHAT_TYPES


def is_forward(message: discord.Message) -> bool:
    """True for a forwarded message (``message_reference.type`` 1): a copy, not a reply."""
    ref = message.reference
    return ref is not None and ref.type is discord.MessageReferenceType.forward


def forwarded_text(message: discord.Message) -> str:
    """The words a forward carries: Discord leaves the forward's own ``content`` empty and puts the
    forwarded message in ``message_snapshots`` (one today; the list allows more)."""
    return "\n\n".join(snap.content for snap in message.message_snapshots if snap.content)


def message_posted(
    message: discord.Message,
    *,
    self_id: int | None,
    source: EventSource = EventSource.LIVE,
    channel: ChannelRef | None = None,
) -> MessagePosted:
    """A :class:`MessagePosted` for ``message``; system messages keep their type as ``subtype``.

    A forward (:func:`is_forward`) is a message of its forwarder's with the forwarded words as its
    text, ``subtype`` :data:`FORWARD_SUBTYPE`, and no ``reply_to``.

    Args:
        message: the discord.py message.
        self_id: our bot's user id (its messages are marked as bot messages).
        source: live traffic or backfill.
        channel: the channel (a thread's parent) when the caller knows it better than discord.py's
            cache does (backfill over REST has no guild cache).
    """
    guild_id = workspace_id(message.guild)
    ref = message.reference
    forwarded = is_forward(message)
    return MessagePosted(
        channel=channel if channel is not None else channel_ref(message.channel),
        author=user_ref(message.author, guild_id, self_id=self_id),
        message_id=str(message.id),
        text=forwarded_text(message) if forwarded else message.content,
        ts=message.created_at,
        thread_id=thread_id_of(message.channel),
        # A forward references the message it copies, but answers nothing: taken for an inline
        # reply it would settle a help question's wait and earn its forwarder a helper's credit.
        reply_to=str(ref.message_id) if ref is not None and ref.message_id is not None and not forwarded else None,
        mentions_bot=mentions_bot(message, self_id),
        mentioned_user_ids=tuple(str(u.id) for u in message.mentions),
        permalink=message.jump_url,
        subtype=FORWARD_SUBTYPE if forwarded else "" if is_chat(message) else message.type.name,
        source=source,
        # Only a DM's answer depends on who asks; in a guild channel, on who reads the channel.
        author_role_ids=member_role_ids(message.author) if message.guild is None else (),
    )


def mentions_bot(message: discord.Message, self_id: int | None) -> bool:
    """Whether ``message`` addresses the bot: its text mentions the bot's user (``<@id>``) or the
    bot's own managed role, which Discord's @-autocomplete lists right under the bot, same name.

    ``message.mentions`` is not the test: a reply pings the replied-to author by default, who is then
    in ``mentions`` without being named in the text, so every "thanks, that worked!" under one of
    the bot's answers would count. Such a reply is still tied to the answer by ``reply_to``, which
    the brains follow (a question replying to the answer is answered as a follow-up, condensed with
    the conversation: by the community brain when it is one of its follow-ups, else by the QA brain;
    the asker's thanks marks it solved).
    """
    if self_id is None:
        return False
    if self_id in message.raw_mentions:
        return True
    return any(role.tags is not None and role.tags.bot_id == self_id for role in message.role_mentions)


def message_edited(payload: discord.RawMessageUpdateEvent, *, self_id: int | None) -> MessageEdited | None:
    """A :class:`MessageEdited` from a raw edit, or ``None`` when the member did not edit.

    Raw edits arrive for uncached messages too. Discord also sends MESSAGE_UPDATE when it adds a
    link preview or pins a message; those carry no new ``edited_timestamp`` and are not edits.
    """
    message = payload.message
    edited = message.edited_at
    if edited is None or "content" not in payload.data:
        return None
    cached = payload.cached_message
    if cached is not None and cached.content == message.content and cached.edited_at == edited:
        return None
    return MessageEdited(
        channel=channel_ref(message.channel),
        message_id=str(payload.message_id),
        text=str(payload.data["content"]),
        edited_at=edited,
        author=user_ref(message.author, workspace_id(message.guild), self_id=self_id),
        thread_id=thread_id_of(message.channel),
    )


def messages_deleted(channel: ChannelRef, message_ids: set[int] | list[int]) -> list[MessageDeleted]:
    """One :class:`MessageDeleted` per id (single and bulk deletes)."""
    return [MessageDeleted(channel, str(mid)) for mid in sorted(message_ids)]


def reaction(
    payload: discord.RawReactionActionEvent, channel: ChannelRef, *, self_id: int | None, now: datetime
) -> ReactionAdded | ReactionRemoved:
    """A reaction event; custom emoji are named, unicode emoji kept as the character."""
    guild_id = workspace_id_from(payload.guild_id)
    user = payload.member
    is_bot = bool(user.bot) if user is not None else False
    name = user.display_name if user is not None else ""
    ref = UserRef(Platform.DISCORD, guild_id, str(payload.user_id), name, is_bot or payload.user_id == self_id)
    emoji = payload.emoji.name or str(payload.emoji.id)
    if payload.event_type == "REACTION_ADD":
        author = str(payload.message_author_id) if payload.message_author_id else None
        return ReactionAdded(channel, str(payload.message_id), ref, emoji, now, author)
    return ReactionRemoved(channel, str(payload.message_id), ref, emoji, now)


def workspace_id_from(guild_id: int | None) -> str:
    """Workspace id from a raw event's optional guild id."""
    return str(guild_id) if guild_id is not None else DM_WORKSPACE


def member_joined(member: discord.Member) -> MemberJoined:
    """A :class:`MemberJoined` for the guild (not a channel)."""
    joined = member.joined_at or datetime.now(UTC)
    return MemberJoined(user_ref(member, str(member.guild.id)), joined)


def member_left(payload: discord.RawMemberRemoveEvent, now: datetime) -> MemberLeft:
    """A :class:`MemberLeft`: someone left, was kicked from or banned from the guild."""
    guild_id = str(payload.guild_id)
    return MemberLeft(user_ref(payload.user, guild_id), now)


def members_left_private_thread(
    thread: AnyChannel, member_ids: Iterable[int | str], *, self_id: int | None, now: datetime
) -> list[MemberLeftChannel]:
    """One :class:`MemberLeftChannel` per member removed from (or leaving) a private thread.

    A private thread is a private channel of its own whose access list holds its owner, its known
    members and everyone who posted (:func:`private_thread_ref`): a member taken out must leave it,
    or answers and recommendations keep quoting the thread to them. Leaving a public thread takes
    nothing away (its channel's readers read it), nor does the bot's own removal: no events then.
    """
    if not is_private_thread(thread):
        return []
    ref = private_thread_ref(thread)
    guild_id = str(thread.guild.id)
    return [
        MemberLeftChannel(UserRef(Platform.DISCORD, guild_id, str(member_id)), now, ref)
        for member_id in dict.fromkeys(str(m) for m in member_ids)
        if member_id != str(self_id)
    ]


def thread_created(
    thread: discord.Thread, *, self_id: int | None, parent: AnyChannel | None = None
) -> ThreadCreated | None:
    """A :class:`ThreadCreated`; ``is_forum_post`` when the parent is a forum. ``None`` without parent.

    ``parent`` stands in for ``thread.parent`` when discord.py has no cached guild channels (backfill).
    """
    parent = parent if parent is not None else thread.parent
    if parent is None:
        return None
    guild_id = str(thread.guild.id)
    owner = thread.owner
    author = (
        user_ref(owner, guild_id, self_id=self_id)
        if owner is not None
        else UserRef(Platform.DISCORD, guild_id, str(thread.owner_id or ""))
    )
    return ThreadCreated(
        # A private thread's "parent" is itself (channel_ref): its messages and its thread row live
        # in a private channel of their own, never in the channel everyone reads.
        parent=channel_ref(thread, parent=parent),
        thread_id=str(thread.id),
        title=thread.name,
        author=author,
        ts=thread.created_at or datetime.now(UTC),
        is_forum_post=isinstance(parent, discord.ForumChannel),
    )


# Guild channels whose messages Guildhall records (news channels are TextChannels). A stage channel
# has a text chat like a voice channel's, but is no VoiceChannel subclass in discord.py.
TEXT_BEARING = (discord.TextChannel, discord.ForumChannel, discord.VoiceChannel, discord.StageChannel)


def channel_seen(channel: AnyChannel, now: datetime) -> ChannelSeen | None:
    """A :class:`ChannelSeen` for text-bearing guild channels (text, news, forum, voice and stage chat)."""
    if not isinstance(channel, TEXT_BEARING):
        return None
    return ChannelSeen(channel_ref(channel), now, workspace_name=channel.guild.name or "")


def channel_deleted(channel_id: int, guild_id: int | None, now: datetime) -> ChannelDeleted:
    """A :class:`ChannelDeleted` for a deleted guild channel or thread.

    Only the ids are used (the recorder erases messages stored under the channel, under the thread
    for a public thread's messages, which are stored under their parent, and those of the private
    threads recorded under the channel, for which Discord sends no delete of their own); the
    visibility is never guessed public for a channel that no longer exists.
    """
    ref = ChannelRef(
        Platform.DISCORD, workspace_id_from(guild_id), str(channel_id), "", Visibility.PRIVATE, visibility_known=False
    )
    return ChannelDeleted(ref, now)


def workspaces_connected(
    guilds: Iterable[discord.Guild], shard_count: int, shard_ids: Iterable[int], now: datetime
) -> WorkspacesConnected:
    """A :class:`WorkspacesConnected` naming every guild in discord.py's cache once it is ready.

    The cache holds every guild READY listed, including the ones Discord could not serve yet
    (``unavailable``: READY lists each guild as ``{"id", "unavailable": true}`` and
    ``ConnectionState.parse_ready`` caches it; GUILD_CREATE fills it in, and one that never comes
    leaves it cached, unavailable). So a guild in an outage counts as present: only a guild READY did
    not list at all is one the bot is no longer in.
    """
    return WorkspacesConnected(
        Platform.DISCORD, tuple(sorted(str(g.id) for g in guilds)), shard_count, tuple(sorted(shard_ids)), now
    )
