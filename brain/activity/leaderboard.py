"""Leaderboard windows and queries over the ``activity_rollup`` table.

Windows are local calendar days in the community's time zone: ``week`` is the 7 days ending today,
``month`` the 30 days ending today, ``all`` everything; the scheduled post uses the previous full
Monday-Sunday week (:func:`previous_week`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core_brain import workspace_config
from bot.events import COMMUNITY_VISIBILITIES_SQL
from bot.store import Store
from brain.activity import schema as _schema  # noqa: F401  (registers the activity tables)
from brain.activity.scoring import COUNTERS, REACTION_POINTS_PER_DAY, capped_reactions_sql, score_sql

PERIODS: dict[str, int | None] = {"week": 7, "month": 30, "all": None}

# The workspace setting of members an admin keeps off the boards (``/guildhall config set``).
EXCLUDE_SETTING = "leaderboard_exclude"


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open range of local days ``[start, end)``; ``start=None`` means since the beginning."""

    start: date | None
    end: date
    label: str


@dataclass(frozen=True, slots=True)
class Entry:
    """One ranked member."""

    rank: int
    user_id: str
    score: float
    counts: dict[str, int]


@dataclass(frozen=True, slots=True)
class Leaderboard:
    """A ranked board plus anonymous totals (which include opted-out and excluded members)."""

    window: Window
    channel_id: str | None
    entries: list[Entry]
    totals: dict[str, int] = field(default_factory=dict)
    members: int = 0
    channel_name: str = ""  # how members know ``channel_id`` (Slack and Discord ids are not names)


def window_for(period: str, now: datetime, tz: ZoneInfo) -> Window:
    """The window of ``period`` (``week``/``month``/``all``) ending with the local day of ``now``."""
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}; use week, month or all")
    today = now.astimezone(tz).date()
    days = PERIODS[period]
    end = today + timedelta(days=1)
    start = None if days is None else end - timedelta(days=days)
    label = "all time" if start is None else f"{start.isoformat()} – {today.isoformat()}"
    return Window(start, end, label)


def previous_week(now: datetime, tz: ZoneInfo) -> Window:
    """The last complete local Monday-Sunday week before ``now``."""
    today = now.astimezone(tz).date()
    this_monday = today - timedelta(days=today.weekday())
    start = this_monday - timedelta(days=7)
    return Window(start, this_monday, f"week of {start.isoformat()}")


async def leaderboard(
    store: Store,
    platform: str,
    workspace_id: str,
    window: Window,
    *,
    channel_id: str | None = None,
    limit: int = 10,
    reactions_per_day: int = REACTION_POINTS_PER_DAY,
) -> Leaderboard:
    """Rank members by helpfulness score in ``window``; opted-out members and those an admin keeps
    off the boards (:func:`excluded_members`) are hidden, and the members below them move up.

    Members with a zero score are left out: volume alone never puts anyone on the board. The
    workspace board counts channels the store knows to be public only: it is posted for everyone,
    and activity in a private channel or a DM is not everyone's to see. A channel's board counts that channel (the
    caller checks that whoever asks may read it). A member's reactions score at most
    ``reactions_per_day`` (the ``activity.reactions_per_day`` setting) a local day (of the board's
    channels); their ``counts`` show the reactions that scored, the totals every reaction. Hidden
    members' activity stays in the totals.
    """
    where = ["platform = ?", "workspace_id = ?", "day < ?"]
    params: list[object] = [platform, workspace_id, window.end.isoformat()]
    if window.start is not None:
        where.append("day >= ?")
        params.append(window.start.isoformat())
    if channel_id:
        where.append("channel_id = ?")
        params.append(channel_id)
    else:
        where.append(
            # Public by the store's word, not "not known to be private": a channel the store has
            # not recorded yet (the recorder runs in its own consumer group) stays off the board.
            "channel_id IN (SELECT channel_id FROM channels WHERE platform = ? AND workspace_id = ? "
            f"AND visibility IN {COMMUNITY_VISIBILITIES_SQL})"
        )
        params += [platform, workspace_id]
    clause = " AND ".join(where)
    sums = ", ".join(f"SUM({c})" for c in COUNTERS)
    per_day = ", ".join(
        f"{capped_reactions_sql(cap=reactions_per_day) if c == 'reactions' else f'SUM({c})'} AS {c}" for c in COUNTERS
    )
    hidden = await store.members_with_setting(platform, workspace_id, "opted_out", True)
    hidden |= await excluded_members(store, platform, workspace_id)
    # The anonymous row (user id "": what members did while opted out) is left out in SQL, not
    # skipped afterwards: the LIMIT makes room for the hidden members only, so a busy anonymous row
    # would take one of the board's places. Reaction points are capped per member and day first.
    rows = await store.db.fetchall(
        f"SELECT user_id, {score_sql()} AS score, {sums} FROM ("
        f"SELECT user_id, {per_day} FROM activity_rollup WHERE {clause} AND user_id <> '' GROUP BY user_id, day"
        f") AS per_day GROUP BY user_id HAVING {score_sql()} > 0 ORDER BY score DESC, user_id LIMIT ?",
        (*params, limit + len(hidden)),
    )
    entries: list[Entry] = []
    for row in rows:
        if row[0] in hidden:
            continue
        entries.append(
            Entry(len(entries) + 1, row[0], float(row[1]), dict(zip(COUNTERS, map(int, row[2:]), strict=True)))
        )
        if len(entries) == limit:
            break
    # Members active: the anonymous row is some number of opted-out members, not one more member,
    # and a row whose counters are all zero (everything it counted was deleted or edited away) is
    # no activity.
    active = " OR ".join(f"{c} <> 0" for c in COUNTERS)
    total_row = await store.db.fetchone(
        f"SELECT {sums}, COUNT(DISTINCT CASE WHEN user_id <> '' AND ({active}) THEN user_id END) "
        f"FROM activity_rollup WHERE {clause}",
        tuple(params),
    )
    totals = {c: int(total_row[i] or 0) for i, c in enumerate(COUNTERS)} if total_row else {}
    members = int(total_row[len(COUNTERS)] or 0) if total_row else 0
    channel_name = ""
    if channel_id:
        channel_row = await store.get_channel(platform, workspace_id, channel_id)
        channel_name = channel_row.name if channel_row is not None and channel_row.name else channel_id
    return Leaderboard(window, channel_id, entries, totals, members, channel_name)


async def excluded_members(store: Store, platform: str, workspace_id: str) -> set[str]:
    """User ids an admin keeps off the leaderboards of a workspace (staff, an unflagged bridge, a
    gamer): ``/guildhall config set leaderboard_exclude``. Only the ranking reads it: their counters
    are still kept (taking them off the list restores their place) and their replies still answer
    questions."""
    return {str(m) for m in await workspace_config(store, platform, workspace_id, EXCLUDE_SETTING, [])}


async def member_names(store: Store, platform: str, workspace_id: str, board: Leaderboard) -> dict[str, str]:
    """Display names of the board's members, where the store knows them."""
    names = {}
    for e in board.entries:
        user = await store.get_user(platform, workspace_id, e.user_id)
        if user is not None and user.name:
            names[e.user_id] = user.name
    return names


async def daily_totals(
    store: Store, platform: str, workspace_id: str, start: date, end: date, channel_id: str | None = None
) -> dict[str, dict[str, int]]:
    """Counter totals per local day in ``[start, end)`` (charts, reports, health checks)."""
    extra = " AND channel_id = ?" if channel_id else ""
    rows = await store.db.fetchall(
        f"SELECT day, {', '.join(f'SUM({c})' for c in COUNTERS)} FROM activity_rollup "
        f"WHERE platform = ? AND workspace_id = ? AND day >= ? AND day < ?{extra} GROUP BY day ORDER BY day",
        (platform, workspace_id, start.isoformat(), end.isoformat(), *([channel_id] if channel_id else [])),
    )
    return {r[0]: {c: int(r[i + 1] or 0) for i, c in enumerate(COUNTERS)} for r in rows}
