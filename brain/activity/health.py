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
    """A question thread root and whether someone other than the asker replied."""

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
        )
        for channel, qs in sorted(by_channel.items())
        if len(qs) >= threshold
    ]


def newcomer_waiting(
    questions: Sequence[OpenQuestion], *, now: float, after_hours: float, names: Mapping[str, str] | None = None
) -> list[HealthAlert]:
    """New members whose first question is still unanswered after ``after_hours``."""
    names = names or {}
    return [
        HealthAlert(
            f"newcomer:{q.author_id}:{q.message_id}",
            f"A new member's first question in #{names.get(q.channel_id, q.channel_id)} has waited "
            f"{(now - q.ts) / 3600:.0f} h without an answer.",
            (q.message_id,),
        )
        for q in questions
        if q.first_from_member and not q.answered and now - q.ts >= after_hours * 3600
    ]


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
