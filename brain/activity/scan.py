"""Gather trend and health findings for one workspace from the store (used by the brain's scan
job, ``/trends``, the CLI and the HTML report)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.privacy.policy import may_index
from bot.store import Store
from brain.activity import charts, health, sentiment
from brain.activity.leaderboard import daily_totals
from brain.activity.trends import Burst, BurstParams, Post, detect_bursts, tokenize

HISTORY_DAYS = 14


@dataclass(frozen=True, slots=True)
class Finding:
    """Something worth telling the admins; ``key`` de-duplicates it and ``strength`` decides updates.

    ``draw`` renders the finding's chart as PNG bytes. It is called only for findings that are shown
    (most of a scan's findings are skipped by the alert ledger), through :func:`chart_png`.
    """

    key: str
    kind: str
    text: str
    strength: float
    message_ids: tuple[str, ...] = ()
    draw: Callable[[], bytes] | None = None
    data: dict[str, object] | None = None


async def chart_png(finding: Finding) -> bytes | None:
    """The finding's chart; matplotlib takes ~0.2 s per chart, so it renders off the event loop."""
    return await asyncio.to_thread(finding.draw) if finding.draw is not None else None


async def trend_sources(
    store: Store, settings: Settings, platform: str, workspace_id: str
) -> tuple[dict[str, str], set[str]]:
    """``(channels, opted-out members)``: what trend analysis may read (id to the name members know
    it by, the id where it has none) and whom it must leave out.

    Only public channels the privacy policy lets into analysis: findings quote terms and link
    messages, and reach members through ``/trends`` and whoever reads the alerts channel, so a
    private channel (even one admins let into the index, where answers check each asker's access)
    or a DM never feeds them. Opted-out members' messages are left out too.
    """
    channels = {
        c.channel_id: c.name or c.channel_id
        for c in await store.list_channels(platform, workspace_id)
        if c.visibility == "public"
        and await may_index(store, settings, platform, workspace_id, c.channel_id, c.name, c.visibility)
    }
    rows = await store.db.fetchall(
        "SELECT user_id, value FROM member_settings WHERE platform = ? AND workspace_id = ? AND key = 'opted_out'",
        (platform, workspace_id),
    )
    return channels, {str(r[0]) for r in rows if json.loads(r[1])}


async def load_posts(store: Store, platform: str, workspace_id: str, since: float, until: float) -> list[Post]:
    """Live, human messages in ``[since, until)``, oldest first."""
    rows = await store.db.fetchall(
        "SELECT ts, channel_id, author_id, message_id, text FROM messages WHERE platform = ? AND workspace_id = ? "
        "AND ts >= ? AND ts < ? AND deleted = 0 AND is_bot = 0 ORDER BY ts",
        (platform, workspace_id, since, until),
    )
    return [Post(float(r[0]), r[1], r[2], r[3], r[4]) for r in rows]


# What an admin can do about each kind of finding: an alert says so rather than only what it saw.
NEXT_STEP: dict[str, str] = {
    "burst": "Is it an incident (an outage, a breaking release)? An answer pinned where people ask saves repeats.",
    "sentiment": "Read the recent messages: something may be broken or a discussion may need a moderator.",
    "unanswered": "Triage them: answer, link the docs, or ask for the details that are missing.",
    "newcomer": "Welcome them and answer: a first question left alone is often the last.",
    "falling": "Check whether something changed (a holiday, a broken invite link, a move elsewhere).",
}


def alert_text(finding: Finding, refs: Sequence[str], *, prefix: str = "") -> str:
    """A finding as posted: what was seen, what to do, and the messages behind it."""
    lines = [f"{prefix}{finding.text}"]
    if step := NEXT_STEP.get(finding.kind):
        lines.append(f"Next step: {step}")
    if refs:
        lines.append(f"Messages: {', '.join(refs)}")
    return "\n".join(lines)


# A mood drop needs this many members posting in the last 24 hours.
MIN_MOOD_AUTHORS = 3


def burst_text(b: Burst, channel_name: str = "") -> str:
    """``"`poetry lock` up 6x in #help in the last 3 hours ..."``."""
    hours = (b.window_end - b.window_start) / 3600
    related = f" Related: {', '.join(f'`{t}`' for t in b.related[:4])}." if b.related else ""
    return (
        f"`{b.term}` up {b.ratio:.0f}x in #{channel_name or b.channel_id} in the last {hours:g} hours "
        f"({b.count} messages; usually about {b.expected:.1f} per {hours:g} h).{related}"
    )


def burst_chart(b: Burst, posts: list[Post], params: BurstParams, channel_name: str = "") -> bytes:
    """Per-window counts of the burst's term in its channel over the loaded history."""
    size = params.window_hours * 3600
    first = b.window_end - size * (HISTORY_DAYS * 24 / params.window_hours)
    starts = [first + i * size for i in range(int((b.window_end - first) / size))]
    counts = [0.0] * len(starts)
    for p in posts:
        if p.channel_id == b.channel_id and first <= p.ts < b.window_end and b.term in tokenize(p.text):
            counts[min(int((p.ts - first) // size), len(counts) - 1)] += 1
    return charts.series_png(
        f"`{b.term}` in #{channel_name or b.channel_id}",
        starts,
        counts,
        highlight_from=b.window_start,
        ylabel="messages / window",
    )


def _day_bins(end: float, days: int) -> list[float]:
    """Starts of ``days`` consecutive 24-hour bins, the last one ending at ``end``."""
    return [end - (days - i) * 86400 for i in range(days)]


def sentiment_chart(channel: str, posts: list[Post], end: float, channel_name: str = "") -> bytes:
    """Mean lexicon sentiment per 24 hours in ``channel`` over the loaded history; the last 24 h highlighted."""
    starts = _day_bins(end, HISTORY_DAYS)
    sums = [0.0] * len(starts)
    counts = [0] * len(starts)
    for p in posts:
        i = int((p.ts - starts[0]) // 86400)
        if p.channel_id == channel and 0 <= i < len(starts):
            sums[i] += sentiment.score_text(p.text)
            counts[i] += 1
    means = [s / n if n else 0.0 for s, n in zip(sums, counts, strict=True)]
    return charts.series_png(
        f"Mood in #{channel_name or channel} (mean sentiment per 24 h)",
        starts,
        means,
        highlight_from=end - 86400,
        ylabel="sentiment",
    )


def unanswered_chart(channel: str, questions: list[health.OpenQuestion], end: float, channel_name: str = "") -> bytes:
    """Questions still unanswered in ``channel``, by the 24 hours they were asked in (last 7 days)."""
    starts = _day_bins(end, 7)
    counts = [0.0] * len(starts)
    for q in questions:
        i = int((q.ts - starts[0]) // 86400)
        if q.channel_id == channel and not q.answered and 0 <= i < len(starts):
            counts[i] += 1
    title = f"Unanswered questions in #{channel_name or channel} (by day asked)"
    return charts.series_png(title, starts, counts, ylabel="questions")


async def open_questions(store: Store, platform: str, workspace_id: str, since: float) -> list[health.OpenQuestion]:
    """Question roots since ``since``, whether anyone else replied, and whether each is the asker's
    first message (only when the workspace has a week of history, so a fresh install does not call
    everyone new)."""
    earliest = await store.db.fetchone(
        "SELECT MIN(ts) FROM activity_contrib WHERE platform = ? AND workspace_id = ?", (platform, workspace_id)
    )
    history_start = float(earliest[0]) if earliest and earliest[0] is not None else since
    rows = await store.db.fetchall(
        "SELECT c.channel_id, c.message_id, c.author_id, c.ts, "
        "(SELECT COUNT(*) FROM activity_contrib r WHERE r.platform = c.platform AND r.workspace_id = c.workspace_id "
        " AND r.thread_id = c.message_id AND r.author_id <> c.author_id AND r.deleted = 0), "
        # First time the author was seen: the recorder's messages table has an (author, ts) index,
        # so this is one index probe per question (the contribution table has none, on purpose:
        # an index there costs live ingest ~15%).
        "(SELECT MIN(f.ts) FROM messages f WHERE f.platform = c.platform AND f.workspace_id = c.workspace_id "
        " AND f.author_id = c.author_id) "
        "FROM activity_contrib c WHERE c.platform = ? AND c.workspace_id = ? AND c.ts >= ? AND c.is_question = 1 "
        "AND c.deleted = 0 AND (c.thread_id IS NULL OR c.thread_id = c.message_id)",
        (platform, workspace_id, since),
    )
    return [
        health.OpenQuestion(
            r[0],
            r[1],
            r[2],
            float(r[3]),
            int(r[4]) > 0,
            # No recorded message at all (recorder off, or purged): nothing earlier, so first.
            first_from_member=(r[5] is None or float(r[5]) >= float(r[3])) and float(r[3]) - history_start >= 7 * 86400,
        )
        for r in rows
    ]


async def scan(
    store: Store,
    platform: str,
    workspace_id: str,
    *,
    settings: Settings,
    now: datetime,
    tz: ZoneInfo,
    unanswered_after_hours: float,
    params: BurstParams | None = None,
) -> list[Finding]:
    """All current findings for a workspace (from public channels and members who did not opt out)."""
    params = params or BurstParams()
    end = now.timestamp()
    # Findings name channels as members know them: Slack and Discord ids are not names.
    names, opted_out = await trend_sources(store, settings, platform, workspace_id)
    channels = names.keys()
    posts = [
        p
        for p in await load_posts(store, platform, workspace_id, end - HISTORY_DAYS * 86400, end)
        if p.channel_id in channels and p.author_id not in opted_out
    ]
    found: list[Finding] = []
    # Replaying two weeks of messages is seconds of pure Python on a busy community: off the loop.
    bursts = await asyncio.to_thread(detect_bursts, posts, now=end, params=params)
    for b in bursts[:5]:
        found.append(
            Finding(
                b.key,
                "burst",
                burst_text(b, names.get(b.channel_id, "")),
                float(b.count),
                b.message_ids,
                partial(burst_chart, b, posts, params, names.get(b.channel_id, "")),
                {
                    "term": b.term,
                    "related": list(b.related),
                    "channel": b.channel_id,
                    "count": b.count,
                    "expected": round(b.expected, 2),
                },
            )
        )
    by_channel: dict[str, tuple[list[str], list[str]]] = {}
    recent_by_author: dict[str, dict[str, list[str]]] = {}
    for p in posts:
        recent, base = by_channel.setdefault(p.channel_id, ([], []))
        if p.ts >= end - 86400:
            recent_by_author.setdefault(p.channel_id, {}).setdefault(p.author_id, []).append(p.text)
        else:
            base.append(p.text)
    burst_channels = {b.channel_id for b in bursts[:5]}
    for channel, (_, base) in sorted(by_channel.items()):
        # A channel's mood is its members', not one angry member's: enough members must have spoken,
        # and the drop must hold without the most active one. Where a topic burst is already
        # reported, its complaints are that incident, not a second alert.
        authors = recent_by_author.get(channel, {})
        if len(authors) < MIN_MOOD_AUTHORS or channel in burst_channels:
            continue
        recent = [text for texts in authors.values() for text in texts]
        drop = sentiment.sentiment_drop(channel, recent, base[-2000:])
        if drop is not None:
            loudest = max(authors, key=lambda a: len(authors[a]))
            others = [text for a, texts in authors.items() if a != loudest for text in texts]
            if sentiment.sentiment_drop(channel, others, base[-2000:], min_messages=1) is None:
                continue
        if drop is not None:
            found.append(
                Finding(
                    f"sentiment:{channel}",
                    "sentiment",
                    f"Mood in #{names.get(channel, channel)} dropped over the last 24 h (sentiment {drop.recent:+.2f} vs "
                    f"{drop.baseline:+.2f} usually, {drop.recent_messages} messages).",
                    round(drop.baseline - drop.recent, 2),
                    draw=partial(sentiment_chart, channel, posts, end, names.get(channel, "")),
                    data={"channel": channel, "recent": round(drop.recent, 3), "baseline": round(drop.baseline, 3)},
                )
            )
    questions = [
        q
        for q in await open_questions(store, platform, workspace_id, end - 7 * 86400)
        if q.channel_id in channels and q.author_id not in opted_out
    ]
    for h in health.unanswered_pileup(questions, now=end, after_hours=unanswered_after_hours, names=names):
        channel = h.key.split(":", 1)[1]
        draw = partial(unanswered_chart, channel, questions, end, names.get(channel, ""))
        # Strength is the true count (message_ids lists ten), so a growing pile-up is posted as an update.
        found.append(Finding(h.key, "unanswered", h.text, float(h.count), h.message_ids, draw))
    for h in health.newcomer_waiting(questions, now=end, after_hours=unanswered_after_hours, names=names):
        found.append(Finding(h.key, "newcomer", h.text, float(h.count), h.message_ids))
    today = now.astimezone(tz).date()
    totals = await daily_totals(store, platform, workspace_id, today - timedelta(days=13), today + timedelta(days=1))
    this_week = sum(v["messages"] for d, v in totals.items() if d > (today - timedelta(days=7)).isoformat())
    last_week = sum(v["messages"] for d, v in totals.items() if d <= (today - timedelta(days=7)).isoformat())
    falling = health.activity_falling(this_week, last_week, week_label=today.strftime("%G-W%V"))
    if falling is not None:
        days = [today - timedelta(days=13 - i) for i in range(14)]
        draw = partial(
            charts.series_png,
            "Counted messages per day",
            [datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() for d in days],
            [float(totals.get(d.isoformat(), {}).get("messages", 0)) for d in days],
            highlight_from=datetime.combine(today - timedelta(days=6), datetime.min.time(), UTC).timestamp(),
        )
        found.append(Finding(falling.key, "falling", falling.text, float(last_week - this_week), (), draw))
    return found
