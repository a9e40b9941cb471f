"""Members who asked to be forgotten: their messages never re-enter Guildhall (re-imports, backfills)."""

from __future__ import annotations

from bot.events import Event, MessageEdited, MessagePosted, ReactionAdded, ReactionRemoved, ThreadCreated, UserRef
from bot.store import Store


def author_of(event: Event) -> UserRef | None:
    """Whose words or act ``event`` carries: what the gate and the recorder drop for forgotten members."""
    if isinstance(event, (MessagePosted, MessageEdited)):
        return event.author
    if isinstance(event, (ReactionAdded, ReactionRemoved)):
        return event.user
    if isinstance(event, ThreadCreated):
        return event.author  # a thread's title is its author's words
    return None


class ForgottenMembers:
    """An in-memory set of ``platform:workspace:user`` keys, loaded from the store at start."""

    def __init__(self) -> None:
        self._keys: set[str] = set()

    async def load(self, store: Store) -> None:
        """Add every member whose ``forgotten`` setting is true (at start, then every minute: another
        process, such as ``guildhall privacy forget`` or a worker behind Redis, may have forgotten one).

        Nobody is ever removed: a member forgotten here but not yet marked in the store stays."""
        rows = await store.db.fetchall(
            "SELECT platform, workspace_id, user_id FROM member_settings WHERE key = 'forgotten' AND value = 'true'"
        )
        self._keys |= {f"{p}:{w}:{u}" for p, w, u in rows}

    def add(self, user: UserRef) -> None:
        """Remember a newly forgotten member."""
        self._keys.add(user.key)

    def __contains__(self, user: UserRef) -> bool:
        # Checked for every inbound event; almost always nobody has been forgotten.
        return bool(self._keys) and user.key in self._keys
