"""Members who asked to be forgotten: their messages never re-enter Guildhall (re-imports, backfills)."""

from __future__ import annotations

from bot.events import UserRef
from bot.store import Store


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
