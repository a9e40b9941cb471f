"""Community health checks: pure functions over thread and activity facts.

* unanswered questions piling up in a channel;
* activity falling week over week;
* a new member's first question left unanswered for N hours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OpenQuestion:
    """A question root and whether it was answered (``scan.open_questions`` says what counts: a
    reply by someone else, the asker's ✅ or thanks, the bot's answer, an answer in unthreaded chat)."""

    channel_id: str
    message_id: str
    author_id: str
    ts: float
    answered: bool
    first_from_member: bool = False


@dataclass(frozen=True, slots=True)
class HealthAlert:
    """One health finding; ``key`` de-duplicates it across scans."""

    key: str
    text: str
    message_ids: tuple[str, ...] = ()
    count: int = 0  # how many questions (or members) it is about; message_ids shows the first ten


def unanswered_pileup(
    questions: Sequence[OpenQuestion],
    *,
    now: float,
    after_hours: float,
    threshold: int = 5,
    names: Mapping[str, str] | None = None,
) -> list[HealthAlert]:
    """Channels with at least ``threshold`` questions unanswered for more than ``after_hours``;
    ``names`` gives channels' names by id."""
    names = names or {}
    by_channel: dict[str, list[OpenQuestion]] = {}
    for q in questions:
        if not q.answered and now - q.ts >= after_hours * 3600:
            by_channel.setdefault(q.channel_id, []).append(q)
    return [
        HealthAlert(
            f"unanswered:{channel}",
            f"{len(qs)} questions in #{names.get(channel, channel)} have waited more than {after_hours:g} h "
            "for an answer.",
            tuple(q.message_id for q in sorted(qs, key=lambda q: q.ts)[:10]),
            len(qs),
        )
        for channel, qs in sorted(by_channel.items())
        if len(qs) >= threshold
    ]


def newcomer_waiting(
    questions: Sequence[OpenQuestion], *, now: float, after_hours: float, names: Mapping[str, str] | None = None
) -> list[HealthAlert]:
    """New members whose first question is still unanswered after ``after_hours``: one alert per
    channel (six newcomers are one thing to act on, not six posts), naming how long the oldest waited."""
    names = names or {}
    by_channel: dict[str, list[OpenQuestion]] = {}
    for q in questions:
        if q.first_from_member and not q.answered and now - q.ts >= after_hours * 3600:
            by_channel.setdefault(q.channel_id, []).append(q)
    alerts = []
    for channel, qs in sorted(by_channel.items()):
        qs.sort(key=lambda q: q.ts)
        hours = (now - qs[0].ts) / 3600
        where = names.get(channel, channel)
        text = (
            f"A new member's first question in #{where} has waited {hours:.0f} h without an answer."
            if len(qs) == 1
            else f"{len(qs)} new members' first questions in #{where} are unanswered; the oldest waited {hours:.0f} h."
        )
        alerts.append(HealthAlert(f"newcomer:{channel}", text, tuple(q.message_id for q in qs[:10]), len(qs)))
    return alerts


def activity_falling(
    this_week: int, last_week: int, *, week_label: str, min_last_week: int = 50, drop: float = 0.4
) -> HealthAlert | None:
    """Messages fell by at least ``drop`` (fraction) week over week, on a meaningful base."""
    if last_week < min_last_week or this_week > last_week * (1 - drop):
        return None
    pct = 100 * (last_week - this_week) / last_week
    return HealthAlert(
        f"falling:{week_label}",
        f"Activity fell {pct:.0f}% week over week ({last_week} → {this_week} counted messages).",
    )
