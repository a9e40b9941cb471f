"""Gather trend and health findings for one workspace from the store (used by the brain's scan
job, ``/trends``, the CLI and the HTML report)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.conversations import WINDOW_GAP_S, WINDOW_MAX_MESSAGES
from bot.events import Visibility
from bot.privacy.policy import may_index
from bot.store import Store
from brain.activity import charts, health, sentiment
from brain.activity.scoring import is_helpful_emoji, is_thanks
from brain.activity.trends import Burst, BurstParams, Post, detect_bursts, tokenize

HISTORY_DAYS = 14

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Finding:
    """Something worth telling the admins; ``key`` de-duplicates it and ``strength`` decides updates.

    ``draw`` renders the finding's chart as PNG bytes. It is called only for findings that are shown
    (most of a scan's findings are skipped by the alert ledger), through :func:`chart_png`.
    ``aliases`` are other keys the same finding may have had in an earlier scan (a burst's related
    terms: as an incident grows, a different term can lead it), so the ledger keeps it one alert.
    """

    key: str
    kind: str
    text: str
    strength: float
    message_ids: tuple[str, ...] = ()
    draw: Callable[[], bytes] | None = None
    data: dict[str, object] | None = None
    aliases: tuple[str, ...] = ()


async def chart_png(finding: Finding) -> bytes | None:
    """The finding's chart; matplotlib takes ~0.2 s per chart, so it renders off the event loop.

    ``None`` when it fails to render: the alert is posted without it. (The ledger has already
    recorded the alert as posted, so an exception here would lose it for a day.)"""
    if finding.draw is None:
        return None
    try:
        return await asyncio.to_thread(finding.draw)
    except Exception:
        log.exception("chart of finding %s failed to render; posting it without the chart", finding.key)
        return None


async def trend_sources(
    store: Store, settings: Settings, platform: str, workspace_id: str
) -> tuple[dict[str, str], set[str]]:
    """``(channels, opted-out members)``: what trend analysis may read (id to the name members know
    it by, the id where it has none) and whom it must leave out.

    Only public channels the privacy policy lets into analysis: findings quote terms and link
    messages, and reach members through ``/trends`` and whoever reads the alerts channel, so a
    restricted channel (members an overwrite keeps out read those too), a private channel (even one admins let into the index, where answers check each asker's access)
    or a DM never feeds them. Opted-out members' messages are left out too.
    """
    channels = {
        c.channel_id: c.name or c.channel_id
        for c in await store.list_channels(platform, workspace_id)
        if c.visibility == Visibility.PUBLIC.value
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
    """``"`poetry lock` up 6x in #help in the last 3 hours ..."``, or for a term the channel
    (almost) never used, ``"`poetry lock` is new in #help: ..."``: its expected rate is the
    detector's floor, and "up 17x, usually about 0.3" would present that floor as an observed rate."""
    hours = (b.window_end - b.window_start) / 3600
    where = f"#{channel_name or b.channel_id}"
    related = f" Related: {', '.join(f'`{t}`' for t in b.related[:4])}." if b.related else ""
    if b.new:
        return (
            f"`{b.term}` is new in {where}: {b.count} messages in the last {hours:g} hours, "
            f"where it was rarely or never mentioned before.{related}"
        )
    return (
        f"`{b.term}` up {b.ratio:.0f}x in {where} in the last {hours:g} hours "
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


async def open_questions(
    store: Store, platform: str, workspace_id: str, since: float, *, min_words: int = 4
) -> list[health.OpenQuestion]:
    """Question roots since ``since``, whether each was answered, and whether each is the asker's
    first message (only when the workspace has a week of history, so a fresh install does not call
    everyone new).

    A question is answered when any of these holds:

    * someone else replied in its thread (a Discord reply counts) with ``min_words`` words or
      more, including a member who has since been forgotten (``/forget-me`` keeps their rows'
      answered-ness, anonymised): a "+1" or "same here" under a question is no answer, and the
      questions most people share must not drop out of the pile-up for it;
    * the asker ✅'d or thanked a message in its thread, the bot's included, or marked it solved;
    * Guildhall answered it (the QA brain's ``qa_answers``, where installed; not an abstention);
    * it got no thread at all (chat without threads) and another member said something of
      ``min_words`` words or more that is not a question of their own in the conversation after
      it: before a 30-minute silence, within 12 messages (``bot.conversations``, the unit
      recommendations and the index use). In a threaded channel that also takes a plain remark
      after an ignored question as its answer: a pile-up may then come late, but one that is
      reported is made of questions nobody took up.

    A question whose asker was forgotten (author ``''``) is not counted, as before erasure kept
    no row of it.
    """
    earliest = await store.db.fetchone(
        "SELECT MIN(ts) FROM activity_contrib WHERE platform = ? AND workspace_id = ?", (platform, workspace_id)
    )
    history_start = float(earliest[0]) if earliest and earliest[0] is not None else since
    rows = await store.db.fetchall(
        "SELECT c.channel_id, c.message_id, c.author_id, c.ts, "
        "(SELECT COUNT(*) FROM activity_contrib r WHERE r.platform = c.platform AND r.workspace_id = c.workspace_id "
        " AND r.thread_id = c.message_id AND r.author_id <> c.author_id AND r.deleted = 0 AND r.words >= ?), "
        # Any reply, the asker's own included: the question lives in a thread.
        "(SELECT COUNT(*) FROM activity_contrib r WHERE r.platform = c.platform AND r.workspace_id = c.workspace_id "
        " AND r.thread_id = c.message_id AND r.message_id <> c.message_id AND r.deleted = 0), "
        # First time the author was seen: the recorder's messages table has an (author, ts) index,
        # so this is one index probe per question (the contribution table has none, on purpose:
        # an index there costs live ingest ~15%).
        "(SELECT MIN(f.ts) FROM messages f WHERE f.platform = c.platform AND f.workspace_id = c.workspace_id "
        " AND f.author_id = c.author_id) "
        "FROM activity_contrib c WHERE c.platform = ? AND c.workspace_id = ? AND c.ts >= ? AND c.is_question = 1 "
        "AND c.deleted = 0 AND c.author_id <> '' AND (c.thread_id IS NULL OR c.thread_id = c.message_id)",
        (min_words, platform, workspace_id, since),
    )
    answered = {str(r[1]) for r in rows if int(r[4]) > 0}
    threaded = {str(r[1]) for r in rows if int(r[5]) > 0}
    pending = {str(r[1]): str(r[2]) for r in rows if str(r[1]) not in answered}
    if pending:
        marked, bot_threaded = await _answered_in_thread(store, platform, workspace_id, pending)
        answered |= marked
        threaded |= bot_threaded
    loose = [
        (str(r[0]), str(r[1]), str(r[2]), float(r[3]))
        for r in rows
        if str(r[1]) not in answered and str(r[1]) not in threaded
    ]
    if loose:
        answered |= await _answered_in_conversation(store, platform, workspace_id, loose, min_words=min_words)
    return [
        health.OpenQuestion(
            r[0],
            r[1],
            r[2],
            float(r[3]),
            str(r[1]) in answered,
            # No recorded message at all (recorder off, or purged): nothing earlier, so first.
            first_from_member=(r[6] is None or float(r[6]) >= float(r[3])) and float(r[3]) - history_start >= 7 * 86400,
        )
        for r in rows
    ]


# IN lists per statement: well under SQLite's oldest limit of 999 bound parameters.
_CHUNK = 400


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    return [list(ids[i : i + _CHUNK]) for i in range(0, len(ids), _CHUNK)]


def _marks(ids: Sequence[str]) -> str:
    return ", ".join("?" for _ in ids)


async def _answered_in_thread(
    store: Store, platform: str, workspace_id: str, askers: dict[str, str]
) -> tuple[set[str], set[str]]:
    """``(answered, threaded)`` among the question roots ``askers`` (root id to asker) that no
    member replied to: answered when the asker ✅'d or thanked a message in the thread, the bot's
    included (bot messages have no contribution row), marked the thread solved, or Guildhall
    answered it; threaded when anyone, a bot included, posted in the thread."""
    db, scope = store.db, (platform, workspace_id)
    answered: set[str] = set()
    threaded: set[str] = set()
    # Guildhall's own answers are logged by the QA brain, which may not be installed.
    has_qa = await db.fetchone("SELECT 1 FROM schema_migrations WHERE name = 'qa-0001-answers'")
    for chunk in _chunks(sorted(askers)):
        in_chunk = _marks(chunk)
        posted = await db.fetchall(
            "SELECT message_id, thread_id, author_id, text FROM messages WHERE platform = ? AND workspace_id = ? "
            f"AND thread_id IN ({in_chunk}) AND message_id <> thread_id AND deleted = 0",
            (*scope, *chunk),
        )
        thread_of: dict[str, str] = {}
        for message_id, thread_id, author_id, text in posted:
            thread_of[str(message_id)] = str(thread_id)
            threaded.add(str(thread_id))
            if author_id == askers[str(thread_id)] and is_thanks(text or ""):
                answered.add(str(thread_id))
        for ids in _chunks(sorted(thread_of)):
            for message_id, user_id, emoji in await db.fetchall(
                "SELECT message_id, user_id, emoji FROM reactions WHERE platform = ? AND workspace_id = ? "
                f"AND message_id IN ({_marks(ids)})",
                (*scope, *ids),
            ):
                root = thread_of[str(message_id)]
                if user_id == askers[root] and is_helpful_emoji(str(emoji)):
                    answered.add(root)
        solved = await db.fetchall(
            f"SELECT thread_id FROM threads WHERE platform = ? AND workspace_id = ? AND thread_id IN ({in_chunk}) "
            "AND solved_message_id IS NOT NULL AND solved_message_id <> ''",
            (*scope, *chunk),
        )
        answered |= {str(r[0]) for r in solved}
        if has_qa:
            bot = await db.fetchall(
                f"SELECT thread_id FROM qa_answers WHERE platform = ? AND workspace_id = ? AND thread_id IN ({in_chunk}) "
                "AND abstained = 0",
                (*scope, *chunk),
            )
            answered |= {str(r[0]) for r in bot}
    return answered, threaded


async def _answered_in_conversation(
    store: Store,
    platform: str,
    workspace_id: str,
    questions: Sequence[tuple[str, str, str, float]],
    *,
    min_words: int,
) -> set[str]:
    """Questions ``(channel, message id, asker, ts)`` without a thread that another member took up
    in the conversation after them (see :func:`open_questions`)."""
    # A conversation after a question ends at most WINDOW_MAX_MESSAGES gaps of WINDOW_GAP_S later.
    horizon = WINDOW_GAP_S * WINDOW_MAX_MESSAGES
    by_channel: dict[str, list[tuple[str, str, float, bool]]] = {}
    for chunk in _chunks(sorted({q[0] for q in questions})):
        rows = await store.db.fetchall(
            "SELECT channel_id, message_id, author_id, ts, is_question, words FROM activity_contrib "
            "WHERE platform = ? AND workspace_id = ? AND ts >= ? AND ts <= ? AND deleted = 0 "
            f"AND channel_id IN ({_marks(chunk)}) AND (thread_id IS NULL OR thread_id = message_id) "
            "ORDER BY ts, message_id",
            (platform, workspace_id, min(q[3] for q in questions), max(q[3] for q in questions) + horizon, *chunk),
        )
        for channel_id, message_id, author_id, ts, is_q, words in rows:
            by_channel.setdefault(str(channel_id), []).append(
                (str(message_id), str(author_id), float(ts), bool(is_q) or int(words) < min_words)
            )
    answered: set[str] = set()
    for channel_id, message_id, asker, _ in questions:
        chat = by_channel.get(channel_id, [])
        start = next((i for i, m in enumerate(chat) if m[0] == message_id), None)
        if start is None:
            continue
        previous = chat[start][2]
        for _, author_id, ts, not_an_answer in chat[start + 1 : start + WINDOW_MAX_MESSAGES]:
            if ts - previous > WINDOW_GAP_S:
                break  # a silence: the conversation the question was asked in is over
            previous = ts
            # A forgotten member's words ("" since their erasure) still answered the question.
            if author_id != asker and not not_an_answer:
                answered.add(message_id)
                break
    return answered


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
                    "new": b.new,
                },
                aliases=tuple(f"burst:{b.channel_id}:{t}" for t in b.related),
            )
        )
    baseline_by_channel: dict[str, list[str]] = {}
    recent_by_author: dict[str, dict[str, list[str]]] = {}
    for p in posts:
        base = baseline_by_channel.setdefault(p.channel_id, [])
        if p.ts >= end - 86400:
            recent_by_author.setdefault(p.channel_id, {}).setdefault(p.author_id, []).append(p.text)
        else:
            base.append(p.text)
    burst_channels = {b.channel_id for b in bursts[:5]}
    for channel, base in sorted(baseline_by_channel.items()):
        # A channel's mood is its members', not one angry member's (sentiment.channel_mood_drop).
        # Where a topic burst is already reported, its complaints are that incident, not a second alert.
        if channel in burst_channels:
            continue
        drop = sentiment.channel_mood_drop(
            channel, recent_by_author.get(channel, {}), base[-2000:], min_authors=MIN_MOOD_AUTHORS
        )
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
        for q in await open_questions(
            store, platform, workspace_id, end - 7 * 86400, min_words=settings.activity.min_words
        )
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
    # Complete local days only: the 7 ending yesterday against the 7 before. Counting today so far
    # made the same dip an alert just after midnight and none late in the evening.
    start = today - timedelta(days=14)
    per_day = await counted_per_day(store, platform, workspace_id, start, today, channels)
    this_week = sum(n for d, n in per_day.items() if d >= (today - timedelta(days=7)).isoformat())
    last_week = sum(n for d, n in per_day.items() if d < (today - timedelta(days=7)).isoformat())
    falling = health.activity_falling(this_week, last_week, week_label=today.strftime("%G-W%V"))
    if falling is not None:
        found.append(
            Finding(
                falling.key,
                "falling",
                falling.text,
                float(last_week - this_week),
                (),
                partial(activity_chart, per_day, start, today, today - timedelta(days=7)),
            )
        )
    return found


async def counted_per_day(
    store: Store, platform: str, workspace_id: str, start: date, end: date, channels: Collection[str]
) -> dict[str, int]:
    """Counted messages per local day in ``[start, end)`` in ``channels`` (the trend sources:
    public, policy-allowed), from members who did not opt out (neither now nor when they posted:
    the anonymous rollup rows hold messages posted while opted out).

    Unlike ``leaderboard.daily_totals`` (every channel, every member), this is what "Activity fell"
    and the report's activity chart may show to everyone: no private channel or DM feeds it.
    """
    rows = await store.db.fetchall(
        "SELECT day, channel_id, SUM(messages) FROM activity_rollup WHERE platform = ? AND workspace_id = ? "
        "AND day >= ? AND day < ? AND user_id <> '' AND user_id NOT IN (SELECT user_id FROM member_settings "
        "WHERE platform = ? AND workspace_id = ? AND key = 'opted_out' AND value = 'true') "
        "GROUP BY day, channel_id",
        (platform, workspace_id, start.isoformat(), end.isoformat(), platform, workspace_id),
    )
    out: dict[str, int] = {}
    for day, channel_id, messages in rows:
        if channel_id in channels:
            out[str(day)] = out.get(str(day), 0) + int(messages or 0)
    return out


def activity_chart(per_day: dict[str, int], start: date, end: date, highlight_from: date | None = None) -> bytes:
    """Counted messages per local day in ``[start, end)`` (:func:`counted_per_day`)."""
    days = [start + timedelta(days=i) for i in range((end - start).days)]
    return charts.series_png(
        f"Counted messages per day in public channels ({start.isoformat()} – {(end - timedelta(days=1)).isoformat()})",
        [datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() for d in days],
        [float(per_day.get(d.isoformat(), 0)) for d in days],
        highlight_from=datetime(highlight_from.year, highlight_from.month, highlight_from.day, tzinfo=UTC).timestamp()
        if highlight_from
        else None,
    )
