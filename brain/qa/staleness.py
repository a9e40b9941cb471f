"""Stale sources: a cited unit older than the configured age, or one corrected later in its thread.

Old advice in a technical community rots (APIs change, flags are removed); an answer should say so
beside the citation rather than silently drop or trust it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from bot.events import Citation
from bot.ml import Unit
from bot.store import Store

# Phrases that take advice back. A bare "actually" or "no longer" is not one: "Actually it's
# simple: ..." opens a fix, and "the error no longer shows" confirms one.
_CORRECTION = re.compile(
    r"\b(?:actually,? (?:no|not|that'?s|that is|this is|it'?s not|it isn'?t|you (?:don'?t|shouldn'?t|can'?t))|"
    r"correction|that'?s (?:wrong|not right|outdated|incorrect)|"
    r"no longer (?:works?|supported|exists?|available|valid|needed|recommended|maintained|the case)|"
    r"not anymore|deprecated|was removed|has been removed|don'?t do that|this is wrong|update:|edit:)",
    re.IGNORECASE,
)
_CODE = re.compile(r"```.*?```|`[^`]*`", re.DOTALL)


def is_correction(text: str) -> bool:
    """True when a message corrects earlier advice ('actually that's outdated', 'no longer works')."""
    return bool(_CORRECTION.search(_CODE.sub(" ", text)))


def stale_note(unit_ts: float, now: float, *, max_age_days: float, corrected: bool = False) -> str:
    """The marker shown beside a citation, or ``""`` when the source is fresh and uncorrected.

    Examples: ``"from 2019 — may be outdated"``, ``"corrected later in the thread"``.
    """
    notes = []
    if unit_ts > 0 and now - unit_ts > max_age_days * 86400:
        year = datetime.fromtimestamp(unit_ts, UTC).year
        notes.append(f"from {year} — may be outdated")
    if corrected:
        notes.append("corrected later in the thread")
    return "; ".join(notes)


async def corrected_later(store: Store, unit: Unit) -> bool:
    """Whether someone other than the asker corrects the unit's advice later in its thread.

    Later means after the unit's first message: a citation links there, so a correction further
    down the same thread is worth the note. The asker's own messages do not count ("the error no
    longer shows" confirms the advice). Windows of unthreaded channels and docs have no thread to
    look in: never "corrected".
    """
    if unit.kind == "doc" or not unit.thread_id:
        return False
    messages = await store.thread_messages(unit.platform, unit.workspace_id, unit.thread_id)
    asker = next((m.author_id for m in messages if m.message_id == unit.thread_id), None)
    for message in messages:
        if message.ts <= unit.ts_start or message.is_bot or message.author_id == asker:
            continue
        if is_correction(message.text):
            return True
    return False


async def mark_stale(
    store: Store, citations: Sequence[Citation], units: Sequence[Unit], *, now: float, max_age_days: float
) -> tuple[Citation, ...]:
    """``citations`` (numbered in the order of ``units``) with staleness notes added.

    Notes already present (e.g. "solved") are kept in front of the staleness marker.
    """
    marked = []
    for citation, unit in zip(citations, units, strict=True):
        when = unit.ts_end or unit.ts_start
        note = (
            ""
            if unit.kind == "doc"
            else stale_note(when, now, max_age_days=max_age_days, corrected=await corrected_later(store, unit))
        )
        if note:
            citation = replace(citation, note="; ".join(n for n in (citation.note, note) if n))
        marked.append(citation)
    return tuple(marked)
