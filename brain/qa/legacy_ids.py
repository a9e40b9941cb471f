"""Re-key Slack units indexed before message ids named their channel (see :mod:`bot.message_ids`).

The store's migration rewrites a Slack ``ts`` to ``"<channel>:<ts>"`` in every table, but the units
in the vector store still carry the old ids: their ``message_ids`` (what edits, deletes and
``/forget-me`` look up), their ``thread_id`` and the unit id itself (which a re-index must replace,
not duplicate). The text and therefore the vector are unchanged, so the units are moved to their new
ids with the vectors they have; nothing is embedded again.

Only units the store migrated are moved: their key id (the thread, or a window's first message) is
in the store's ``slack_legacy_ids`` map. A bare id the store came to hold after its migration (no
current writer produces one) is left as it is, so the index and the store still agree.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

import numpy as np

from bot.conversations import thread_unit_base, window_unit_base
from bot.message_ids import SEPARATOR, qualified, slack_ts
from bot.ml import Unit, UnitIndex
from bot.store import Store
from bot.store.slack_ids import LEGACY_TABLE

log = logging.getLogger(__name__)

_BATCH = 1000


def is_legacy(unit: Unit) -> bool:
    """Whether ``unit`` is a Slack unit that still carries a bare ``ts`` as an id."""
    if unit.platform != "slack":
        return False
    return any(SEPARATOR not in m for m in unit.message_ids) or bool(unit.thread_id and SEPARATOR not in unit.thread_id)


def requalified(unit: Unit) -> Unit:
    """The same unit under channel-qualified ids (the id :func:`brain.qa.units.build_units` now gives it)."""
    if not is_legacy(unit):
        return unit
    channel, p, ws = unit.channel_id, unit.platform, unit.workspace_id
    unit_id = unit.unit_id
    thread_id = qualified(p, channel, unit.thread_id) if unit.thread_id else unit.thread_id
    if unit.kind == "thread" and unit.thread_id and thread_id:
        old = thread_unit_base(p, ws, unit.thread_id)
        if unit_id.startswith(old):
            unit_id = thread_unit_base(p, ws, thread_id) + unit_id[len(old) :]
    elif unit.kind == "window":
        prefix = window_unit_base(p, ws, channel, "")
        if unit_id.startswith(prefix):
            first, hash_, chunk = unit_id[len(prefix) :].partition("#")
            unit_id = prefix + qualified(p, channel, first) + hash_ + chunk
    return dataclasses.replace(
        unit,
        unit_id=unit_id,
        thread_id=thread_id,
        message_ids=tuple(qualified(p, channel, m) for m in unit.message_ids),
    )


def legacy_unit_id(unit: Unit) -> str | None:
    """The id a Slack unit had before ids named their channel (the inverse of :func:`requalified`),
    or ``None`` for any other unit. Answers logged before the upgrade cite units by that id."""
    if unit.platform != "slack" or is_legacy(unit):
        return None
    p, ws = unit.platform, unit.workspace_id
    if unit.kind == "thread" and unit.thread_id:
        new = thread_unit_base(p, ws, unit.thread_id)
        if unit.unit_id.startswith(new):
            return thread_unit_base(p, ws, slack_ts(unit.thread_id)) + unit.unit_id[len(new) :]
    elif unit.kind == "window":
        prefix = window_unit_base(p, ws, unit.channel_id, "")
        if unit.unit_id.startswith(prefix):
            first, hash_, rest = unit.unit_id[len(prefix) :].partition("#")
            return prefix + slack_ts(first) + hash_ + rest
    return None


def _key_id(unit: Unit) -> str:
    return unit.thread_id if unit.kind == "thread" and unit.thread_id else (unit.message_ids or ("",))[0]


async def _migrated(store: Store, units: Sequence[Unit]) -> list[Unit]:
    """Those of ``units`` whose key id the store's migration rewrote."""
    out: list[Unit] = []
    for start in range(0, len(units), 500):
        batch = units[start : start + 500]
        found: set[tuple[str, str]] = set()
        for ws in {u.workspace_id for u in batch}:
            ids = sorted({_key_id(u) for u in batch if u.workspace_id == ws})
            rows = await store.db.fetchall(
                f"SELECT legacy_id FROM {LEGACY_TABLE} WHERE platform = 'slack' AND workspace_id = ? "
                f"AND legacy_id IN ({', '.join('?' * len(ids))})",
                [ws, *ids],
            )
            found |= {(ws, str(r[0])) for r in rows}
        out += [u for u in batch if (u.workspace_id, _key_id(u)) in found]
    return out


async def requalify_index(index: UnitIndex, units: Sequence[Unit], store: Store) -> list[Unit]:
    """Move ``units`` the store migrated to their new ids in ``index``; returns all units as now stored.

    A unit whose vector cannot be read back is dropped from the index: the next rebuild of its
    thread or channel (``guildhall index all``) indexes it again under the new id.
    """
    legacy = [u for u in units if is_legacy(u)]
    if legacy:
        legacy = await _migrated(store, legacy)
    if not legacy:
        return list(units)
    moving = {u.unit_id for u in legacy}
    moved: dict[str, Unit] = {}
    for start in range(0, len(legacy), _BATCH):
        batch = legacy[start : start + _BATCH]
        vectors = await index.vectors([u.unit_id for u in batch])
        keep = [u for u in batch if u.unit_id in vectors]
        if keep:
            fresh = [requalified(u) for u in keep]
            await index.upsert(fresh, np.stack([vectors[u.unit_id] for u in keep]).astype(np.float32))
            moved.update({old.unit_id: new for old, new in zip(keep, fresh, strict=True)})
        # Delete after the upsert: an interruption leaves a unit twice (the next start moves it
        # again, idempotently), never zero times.
        gone = [u.unit_id for u in batch if u.unit_id not in moved or moved[u.unit_id].unit_id != u.unit_id]
        await index.delete(gone)
    lost = len(legacy) - len(moved)
    log.warning(
        "qa: moved %d Slack units to channel-qualified message ids%s",
        len(moved),
        f"; {lost} without a stored vector were dropped (run `guildhall index all`)" if lost else "",
    )
    # An interrupted earlier move can have left a unit under both ids: keep one of each.
    now = {u.unit_id: u for u in units if u.unit_id not in moving}
    now.update({new.unit_id: new for new in moved.values()})
    return list(now.values())
