"""A static weekly community report: one self-contained HTML file (charts embedded as base64 PNG)."""

from __future__ import annotations

import base64
import html
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.store import Store
from brain.activity import charts
from brain.activity.leaderboard import leaderboard, member_names, window_for
from brain.activity.scan import NEXT_STEP, Finding, activity_chart, chart_png, counted_per_day, trend_sources
from brain.activity.scoring import REACTION_POINTS_PER_DAY, score_text

log = logging.getLogger(__name__)

_STYLE = """body{font-family:system-ui,sans-serif;max-width:820px;margin:2em auto;color:#1d2333}
table{border-collapse:collapse;margin:1em 0}td,th{padding:.3em .8em;border-bottom:1px solid #e3e6ee;text-align:right}
td:nth-child(2),th:nth-child(2){text-align:left}img{max-width:100%}h1{font-size:1.6em}.muted{color:#6b7385}"""


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _chart(draw: Callable[[], bytes], alt: str) -> str:
    """The chart as an ``<img>``, or a note where it failed to render: the report is still written
    (its tables and findings say the same in words), as alerts go out without their chart."""
    try:
        return _img(draw(), alt)
    except Exception:
        log.exception("report: the %s chart failed to render; the report goes without it", alt)
        return f"<p class='muted'>(The {html.escape(alt)} chart could not be drawn.)</p>"


async def build_report(
    store: Store,
    platform: str,
    workspace_id: str,
    *,
    now: datetime,
    tz: ZoneInfo,
    findings: list[Finding],
    settings: Settings | None = None,
) -> str:
    """The report for the 7 local days ending with ``now``: leaderboard, daily activity, findings.

    The activity chart counts what trend findings read (``scan.trend_sources``: public channels the
    privacy policy allows, members who did not opt out), never private channels or DMs. Without
    ``settings`` the configured deny list is unknown: the store's public channels are counted.
    """
    window = window_for("week", now, tz)
    board = await leaderboard(
        store,
        platform,
        workspace_id,
        window,
        reactions_per_day=settings.activity.reactions_per_day if settings is not None else REACTION_POINTS_PER_DAY,
    )
    names = await member_names(store, platform, workspace_id, board)
    start = window.end - timedelta(days=14)
    if settings is not None:
        channels = set((await trend_sources(store, settings, platform, workspace_id))[0])
    else:
        channels = {c.channel_id for c in await store.list_channels(platform, workspace_id) if c.visibility == "public"}
    per_day = await counted_per_day(store, platform, workspace_id, start, window.end, channels)
    series = _chart(lambda: activity_chart(per_day, start, window.end, window.start), "messages per day")
    rows = "".join(
        f"<tr><td>{e.rank}</td><td>{html.escape(names.get(e.user_id, e.user_id))}</td><td>{score_text(e.score)}</td><td>{e.counts['helpful']}</td>"
        f"<td>{e.counts['answered']}</td><td>{e.counts['replies']}</td><td>{e.counts['reactions']}</td></tr>"
        for e in board.entries
    )
    t = board.totals
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Community report {html.escape(window.label)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Community report</h1><p class='muted'>{html.escape(window.label)} · {platform}:{html.escape(workspace_id)}</p>",
        f"<p>{board.members} active members · {t.get('messages', 0)} counted messages · "
        f"{t.get('answered', 0)} questions answered · {t.get('helpful', 0)} answers marked helpful</p>",
        "<h2>Activity</h2>",
        series,
        "<h2>Most helpful members</h2>",
        "<table><tr><th>#</th><th>member</th><th>score</th><th>helpful</th><th>answered</th><th>replies</th>"
        f"<th>reactions</th></tr>{rows}</table>"
        if rows
        else "<p>No helpful activity this week.</p>",
        _chart(lambda: charts.leaderboard_png(board, names), "leaderboard") if rows else "",
        "<h2>Trends and health</h2>",
    ]
    if not findings:
        parts.append("<p>Nothing unusual.</p>")
    for f in findings:
        parts.append(f"<h3>{html.escape(f.kind)}</h3><p>{html.escape(f.text)}</p>")
        if step := NEXT_STEP.get(f.kind):
            parts.append(f"<p><em>Next step:</em> {html.escape(step)}</p>")
        png = await chart_png(f)
        if png:
            parts.append(_img(png, f.kind))
    parts.append(
        "<p class='muted'>Opted-out members, and members the admins keep off the leaderboard, are counted in totals but never named.</p></body></html>"
    )
    return "\n".join(parts)
