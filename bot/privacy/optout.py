"""Opt-outs that follow a Discord member: ``/optout`` in one server holds in servers met later."""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Collection, Iterable

from bot.events import Platform, UserRef
from bot.permissions import DISCORD_DM_WORKSPACE
from bot.store import OPTED_OUT_KEY, Store
from bot.store.db import Executor

log = logging.getLogger(__name__)

# First key of the PostgreSQL advisory locks that order a member's opt-out carry-overs and their
# /optin ("opt0"); the second is the user id's CRC-32 (the same in every process; two members
# sharing one only wait for each other). SQLite: BEGIN IMMEDIATE orders them.
OPT_OUT_LOCK_CLASS = 0x6F707430
# User ids per read of the store: an import's batch names thousands of authors.
_READ_CHUNK = 500
# (workspace, user) pairs remembered as needing no further look; one forgotten is looked at again.
_MAX_KNOWN = 200_000


class DiscordOptOuts:
    """Carries a Discord member's opt-out to the servers they act in after it.

    ``opted_out`` is a member setting per workspace, and every brain reads it so (the answer index's
    filter, the activity counters, profiles, leaderboards, trends). A Discord user id is one person
    in every guild and in DMs with the bot: ``/optout`` sets it in every workspace the store knows
    the member in (``CoreBrain.member_everywhere``), and :meth:`follow` sets it in a workspace where
    they show up without the store knowing them there, before the privacy gate publishes their
    event. No reader has to look across workspaces, and an explicit setting in a workspace
    (``/optin`` writes ``false``) is kept.

    The gate and ``/optout`` may run in different processes (a gateway and workers behind Redis),
    so no list of opted-out members loaded earlier is trusted: a member's first event in a
    workspace is checked against the store, and the pair is remembered only once the store knows
    the member there, as ``/optout`` and ``/optin`` then reach that workspace themselves.
    ``/optout`` writes the member's own workspace before it looks up their others
    (:func:`opt_out_here_first`): a check that saw no opt-out read the store before that write, so
    the look-up sees the workspace the check saw. Until the worker has stored something of the
    member there (their first event may still be on the bus), each of their events is checked again;
    the recorder gives every Discord member whose act it stores a ``users`` row (one who only reacts too), so
    that lasts until their first event is stored.
    """

    def __init__(self) -> None:
        # Pairs whose setting ``/optout`` and ``/optin`` keep right from now on (dict: insertion order).
        self._known: dict[tuple[str, str], None] = {}
        self._store: Store | None = None

    async def load(self, store: Store) -> None:
        """``store`` is where :meth:`follow` reads opt-outs and carries them over; the pairs
        remembered stay right (nothing else is read here)."""
        self._store = store

    async def follow(self, authors: Iterable[UserRef | None]) -> None:
        """Set ``opted_out`` for each opted-out Discord member among ``authors`` in their workspace,
        where it is not set yet. Called for every published event: a dict lookup once the pair is
        known, else one read per call for all of its new pairs (at most a few more for a long batch)."""
        store = self._store
        if store is None:
            return
        new: dict[tuple[str, str], UserRef] = {}
        for author in authors:
            if author is None or author.platform is not Platform.DISCORD:
                continue
            pair = (author.workspace_id, author.user_id)
            if pair not in self._known and pair not in new:
                new[pair] = author
        if not new:
            return
        try:
            seen = await _member_rows(store, new)
        except Exception:  # the events still go out; the authors' next events look again
            log.exception("privacy: could not read Discord opt-outs")
            return
        for pair, author in new.items():
            ws, uid = pair
            opted, known_in = seen.get(uid, ({}, set()))
            if ws in opted:
                self._remember(pair)  # their own choice here, or an earlier carry-over
            elif True in opted.values():
                try:
                    if await _carry_over(store, author):
                        self._remember(pair)
                except Exception:  # the event still goes out; its author's next event retries
                    log.exception("privacy: could not carry an opt-out over to a Discord workspace")
            elif ws in known_in:
                self._remember(pair)

    def _remember(self, pair: tuple[str, str]) -> None:
        self._known[pair] = None
        if len(self._known) > _MAX_KNOWN:
            del self._known[next(iter(self._known))]


async def _member_rows(store: Store, pairs: Iterable[tuple[str, str]]) -> dict[str, tuple[dict[str, bool], set[str]]]:
    """For each Discord user id of ``pairs`` (workspace, user): its ``opted_out`` values by
    workspace, and the workspaces where the store knows the member (among the pairs' own, DMs with
    the bot included: what ``CoreBrain.member_everywhere`` finds). One statement per workspace and
    chunk of ids, so both come from one snapshot."""
    by_workspace: dict[str, list[str]] = {}
    for ws, uid in pairs:
        by_workspace.setdefault(ws, []).append(uid)
    found: dict[str, tuple[dict[str, bool], set[str]]] = {}
    p = Platform.DISCORD.value
    for ws, user_ids in by_workspace.items():
        for start in range(0, len(user_ids), _READ_CHUNK):
            chunk = user_ids[start : start + _READ_CHUNK]
            rows = await store.db.fetchall(member_rows_sql(len(chunk)), (p, ws, *chunk, p, *chunk))
            for uid in chunk:
                found.setdefault(uid, ({}, {DISCORD_DM_WORKSPACE}))
            for uid, row_ws, key, value in rows:
                opted, known_in = found.setdefault(str(uid), ({}, {DISCORD_DM_WORKSPACE}))
                known_in.add(str(row_ws))
                if key == OPTED_OUT_KEY:
                    opted[str(row_ws)] = json.loads(value)
    return found


def member_rows_sql(count: int) -> str:
    """The gate's read for ``count`` members of one workspace (parameters: platform, workspace,
    the ids, platform, the ids): their user rows there, by the table's key, and their settings in
    every workspace, by ``member_settings_member`` (migration core-0011)."""
    marks = ", ".join("?" * count)
    return (
        "SELECT user_id, workspace_id, '', '' FROM users "
        f"WHERE platform = ? AND workspace_id = ? AND user_id IN ({marks}) UNION ALL "
        "SELECT user_id, workspace_id, key, value FROM member_settings "
        f"WHERE platform = ? AND user_id IN ({marks})"
    )


async def _lock_member(tx: Executor, dialect: str, user: UserRef) -> None:
    """Hold the member's opt-out lock until ``tx`` ends (SQLite: ``BEGIN IMMEDIATE`` already holds
    the database's write lock)."""
    if dialect == "postgresql":
        key = zlib.crc32(user.user_id.encode("utf-8", "surrogatepass")) - 2**31  # PostgreSQL's int range
        await tx.execute("SELECT pg_advisory_xact_lock(?, ?)", (OPT_OUT_LOCK_CLASS, key))


async def _carry_over(store: Store, author: UserRef) -> bool:
    """Set ``opted_out`` in the author's workspace when it is not set there and they are opted out
    elsewhere; True when the workspace has the setting now. Read and written under the member's lock,
    which :func:`clear_carried_opt_outs` takes too: an ``/optin`` racing this either comes first
    (nothing is copied) or clears the copy."""
    p, ws, uid = author.platform.value, author.workspace_id, author.user_id
    async with store.db.transaction() as tx:
        await _lock_member(tx, store.db.dialect, author)
        rows = await tx.fetchall(
            "SELECT workspace_id, value FROM member_settings WHERE platform = ? AND user_id = ? AND key = ?",
            (p, uid, OPTED_OUT_KEY),
        )
        values = {str(w): json.loads(v) for w, v in rows}
        if ws in values:
            return True  # set meanwhile: by the member, or by another process's gate
        if True not in values.values():
            return False  # opted in meanwhile
        await store.set_member_setting(p, ws, uid, OPTED_OUT_KEY, True, tx=tx)
    await store.audit(p, ws, uid, "optout", detail={"carried_over": True})
    return True


async def opt_out_here_first(store: Store, user: UserRef) -> None:
    """``/optout``'s first write: the setting in ``user``'s own workspace, before the command looks
    up the member's other workspaces. A gate that finds no opt-out of the member anywhere read the
    store before this write, and so before that look-up: any workspace where it saw the store know
    the member is in the list (:class:`DiscordOptOuts`)."""
    await store.set_member_setting(user.platform.value, user.workspace_id, user.user_id, OPTED_OUT_KEY, True)


async def clear_carried_opt_outs(store: Store, user: UserRef, *, keep: Collection[str] = ()) -> list[str]:
    """``/optin``'s last write: clear every opt-out of the Discord member still set, but in the
    workspaces of ``keep`` (where they cannot opt in); returns the workspaces cleared.

    The command first clears the workspaces it knows the member in; a gate may have carried the
    opt-out to another one meanwhile (it read the opt-out before the command cleared it). Under the
    member's lock, so no carry-over reads before this and writes after it."""
    if user.platform is not Platform.DISCORD:
        return []
    p, uid = user.platform.value, user.user_id
    async with store.db.transaction() as tx:
        await _lock_member(tx, store.db.dialect, user)
        rows = await tx.fetchall(
            "SELECT workspace_id FROM member_settings WHERE platform = ? AND user_id = ? AND key = ? AND value = ?",
            (p, uid, OPTED_OUT_KEY, json.dumps(True)),
        )
        cleared = sorted(str(r[0]) for r in rows if str(r[0]) not in keep)
        for ws in cleared:
            await store.set_member_setting(p, ws, uid, OPTED_OUT_KEY, False, tx=tx)
    return cleared
