"""Opt-outs that follow a Discord member: ``/optout`` in one server holds in servers met later."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from bot.events import Platform, UserRef
from bot.store import OPTED_OUT_KEY, Store

log = logging.getLogger(__name__)


class DiscordOptOuts:
    """Discord ids opted out somewhere, loaded from the store (at start, then every minute).

    ``opted_out`` is a member setting per workspace, and every brain reads it so (the answer index's
    filter, the activity counters, profiles, leaderboards, trends). A Discord user id is one person
    in every guild and in DMs with the bot: ``/optout`` sets it in every workspace the member is known
    in (``CoreBrain.member_everywhere``), and :meth:`follow` sets it in a workspace where they show
    up later, before the privacy gate publishes their first event there. No reader has to look
    across workspaces, and an explicit setting in a workspace (``/optin`` writes ``false``) is kept.
    """

    def __init__(self) -> None:
        self._ids: set[str] = set()
        # (workspace, user) pairs whose setting this process has checked since the member opted out.
        self._settled: set[tuple[str, str]] = set()
        self._store: Store | None = None

    async def load(self, store: Store) -> None:
        """Read who is opted out; ``store`` is where :meth:`follow` carries the setting over."""
        rows = await store.db.fetchall(
            "SELECT DISTINCT user_id FROM member_settings WHERE platform = ? AND key = ? AND value = 'true'",
            (Platform.DISCORD.value, OPTED_OUT_KEY),
        )
        self._store = store
        self._ids = {str(r[0]) for r in rows}
        self._settled = {pair for pair in self._settled if pair[1] in self._ids}

    def add(self, user: UserRef) -> None:
        """``user`` opted out (in this process): their next workspace gets the setting at once."""
        if user.platform is Platform.DISCORD:
            self._ids.add(user.user_id)

    def discard(self, user: UserRef) -> None:
        """``user`` opted back in (in this process)."""
        if user.platform is Platform.DISCORD:
            self._ids.discard(user.user_id)
            self._settled = {pair for pair in self._settled if pair[1] != user.user_id}

    async def follow(self, authors: Iterable[UserRef | None]) -> None:
        """Set ``opted_out`` for each opted-out Discord member among ``authors`` in their workspace,
        where it is not set yet. Called for every published event: a set lookup unless the author
        is opted out somewhere, and one read per new workspace of such a member."""
        if not self._ids or self._store is None:
            return
        for author in authors:
            if author is None or author.platform is not Platform.DISCORD or author.user_id not in self._ids:
                continue
            pair = (author.workspace_id, author.user_id)
            if pair in self._settled:
                continue
            try:
                await self._carry_over(self._store, author)
            except Exception:  # the event still goes out; its author's next event retries
                log.exception("privacy: could not carry an opt-out over to a Discord workspace")
                continue
            self._settled.add(pair)

    async def _carry_over(self, store: Store, author: UserRef) -> None:
        p, ws, uid = author.platform.value, author.workspace_id, author.user_id
        rows = await store.db.fetchall(
            "SELECT workspace_id, value FROM member_settings WHERE platform = ? AND user_id = ? AND key = ?",
            (p, uid, OPTED_OUT_KEY),
        )
        values = {str(w): json.loads(v) for w, v in rows}
        if ws in values:
            return  # their own choice here (or an earlier carry-over)
        if True not in values.values():
            # Opted in since, in another process (this one learns it at the next load).
            self._ids.discard(uid)
            return
        await store.set_member_setting(p, ws, uid, OPTED_OUT_KEY, True)
        await store.audit(p, ws, uid, "optout", detail={"carried_over": True})
