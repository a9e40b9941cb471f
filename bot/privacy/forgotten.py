"""Members who asked to be forgotten: their messages never re-enter Guildhall (re-imports, backfills)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.events import (
    ButtonClicked,
    CommandInvoked,
    CommandReply,
    Event,
    MemberJoined,
    MemberLeft,
    MemberLeftChannel,
    MemberUpdated,
    MessageEdited,
    MessagePosted,
    Platform,
    ReactionAdded,
    ReactionRemoved,
    SendDirectMessage,
    SendEphemeral,
    ThreadCreated,
    UserRef,
)
from bot.privacy.optout import DiscordOptOuts
from bot.store import Store


def author_of(event: Event) -> UserRef | None:
    """Whose words or act ``event`` carries: what the gate and the recorder drop for forgotten members."""
    if isinstance(event, (MessagePosted, MessageEdited)):
        return event.author
    if isinstance(event, (ReactionAdded, ReactionRemoved)):
        return event.user
    if isinstance(event, ThreadCreated):
        return event.author  # a thread's title is its author's words
    if isinstance(event, MemberUpdated):
        return event.user  # their name and time zone
    return None


def subject_of(event: Event) -> UserRef | None:
    """Whose words, acts or personal data ``event`` carries: :func:`author_of`'s member, and also
    the member behind a command (its text is their question), a button press, a join or a leave
    (name and time zone), a reply to their command and what the bot sent them alone. What an event log
    erases at ``/forget-me``; the gate keeps using :func:`author_of` (the bot must still answer
    the ``/forget-me`` command itself)."""
    author = author_of(event)
    if author is not None:
        return author
    if isinstance(
        event,
        CommandInvoked
        | ButtonClicked
        | MemberJoined
        | MemberLeft
        | MemberLeftChannel
        | SendDirectMessage
        | SendEphemeral,
    ):
        return event.user
    if isinstance(event, CommandReply):
        return event.command.user
    return None


log = logging.getLogger(__name__)


class ForgottenMembers:
    """An in-memory set of ``platform:workspace:user`` keys, loaded from the store at start.

    A Discord user id names one person in every guild and in DMs with the bot, and ``/forget-me``
    erases them in all of them (``CoreBrain.member_everywhere``): a Discord member forgotten in one
    workspace is forgotten in every one, also a guild the bot joins or backfills later, where their
    old messages would otherwise come back.

    It also holds :attr:`opt_outs`, handed to the privacy gate with it, so an opt-out follows a
    Discord member to servers met later too (checked against the store, not a list loaded here)."""

    def __init__(self) -> None:
        self._keys: set[str] = set()
        self._discord_ids: set[str] = set()
        self.opt_outs = DiscordOptOuts()

    async def load(self, store: Store) -> list[UserRef]:
        """Add every member whose ``forgotten`` setting is true (at start, then every minute: another
        process, such as ``guildhall privacy forget`` or a worker behind Redis, may have forgotten one).
        Returns the members this process did not know were forgotten.

        Nobody is ever removed: a member forgotten here but not yet marked in the store stays."""
        await self.opt_outs.load(store)
        rows = await store.db.fetchall(
            "SELECT platform, workspace_id, user_id FROM member_settings WHERE key = 'forgotten' AND value = 'true'"
        )
        new: list[UserRef] = []
        for p, w, u in rows:
            key = f"{p}:{w}:{u}"
            if key not in self._keys:
                self._keys.add(key)
                try:
                    user = UserRef(Platform(p), str(w), str(u))
                except ValueError:  # a platform this build does not know: nothing of it runs here
                    continue
                self._remember_global(user)
                new.append(user)
        return new

    def add(self, user: UserRef) -> None:
        """Remember a newly forgotten member."""
        self._keys.add(user.key)
        self._remember_global(user)

    def _remember_global(self, user: UserRef) -> None:
        if user.platform is Platform.DISCORD:
            self._discord_ids.add(user.user_id)

    def __contains__(self, user: UserRef) -> bool:
        # Checked for every inbound event; almost always nobody has been forgotten.
        if not self._keys:
            return False
        if user.platform is Platform.DISCORD:
            return user.user_id in self._discord_ids
        return user.key in self._keys


def unless_forgotten(
    forgotten: ForgottenMembers, handler: Callable[[Any], Awaitable[None]]
) -> Callable[[Any], Awaitable[None]]:
    """``handler`` that skips events carrying a forgotten member's words or acts.

    The bus gate drops them when they are published; this catches the ones already on the bus when
    the member was forgotten (a queue, a lagging consumer group, a dead worker's reclaimed entries,
    a dead-letter replay), so no brain stores, indexes or counts them after the erasure.
    """

    async def run(event: Any) -> None:
        author = author_of(event)
        if author is not None and author in forgotten:
            log.info("skipped a %s of a member who asked to be forgotten", type(event).__name__)
            return
        await handler(event)

    run.__name__ = getattr(handler, "__name__", "handler")
    return run
