"""Stale sources: a cited unit older than the configured age, or one corrected later in its thread."""

from __future__ import annotations

from datetime import UTC, datetime


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
