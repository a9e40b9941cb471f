"""Members who asked to be forgotten: their messages never re-enter Guildhall (re-imports, backfills)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.events import (
    Event,
    MemberUpdated,
    MessageEdited,
    MessagePosted,
    Platform,
    ReactionAdded,
    ReactionRemoved,
    ThreadCreated,
    UserRef,
)
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


log = logging.getLogger(__name__)


class ForgottenMembers:
    """An in-memory set of ``platform:workspace:user`` keys, loaded from the store at start."""

    def __init__(self) -> None:
        self._keys: set[str] = set()

    async def load(self, store: Store) -> list[UserRef]:
        """Add every member whose ``forgotten`` setting is true (at start, then every minute: another
        process, such as ``guildhall privacy forget`` or a worker behind Redis, may have forgotten one).
        Returns the members this process did not know were forgotten.

        Nobody is ever removed: a member forgotten here but not yet marked in the store stays."""
        rows = await store.db.fetchall(
            "SELECT platform, workspace_id, user_id FROM member_settings WHERE key = 'forgotten' AND value = 'true'"
        )
        new: list[UserRef] = []
        for p, w, u in rows:
            key = f"{p}:{w}:{u}"
            if key not in self._keys:
                self._keys.add(key)
                try:
                    new.append(UserRef(Platform(p), str(w), str(u)))
                except ValueError:  # a platform this build does not know: nothing of it runs here
                    continue
        return new

    def add(self, user: UserRef) -> None:
        """Remember a newly forgotten member."""
        self._keys.add(user.key)

    def __contains__(self, user: UserRef) -> bool:
        # Checked for every inbound event; almost always nobody has been forgotten.
        return bool(self._keys) and user.key in self._keys


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
