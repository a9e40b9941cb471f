"""PNG charts (matplotlib's object API rendered by the Agg canvas: no pyplot figure registry to leak,
no display needed). A chart takes ~0.1 s; the heavy trend detection runs in a worker thread instead.

Every label here can come from members (display names, channel names): ``$`` is escaped (a name
like ``$^^$`` would otherwise be parsed as mathtext and raise) and control characters are stripped.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence

from matplotlib.figure import Figure

from bot.valid_text import clip
from brain.activity.leaderboard import Leaderboard

_ACCENT = "#4f6bed"
_MUTED = "#9aa3b5"


def clean_label(text: str, width: int = 40) -> str:
    """``text`` without control/format characters, clipped to ``width`` characters, ``$`` escaped."""
    kept = "".join(ch for ch in text if ch.isprintable())
    clipped = clip(kept, width)
    return clipped.replace("$", r"\$")


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # Names in scripts or emoji the bundled font lacks render as boxes; that is not an error.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
        warnings.filterwarnings("ignore", message=r"Matplotlib currently does not support", category=UserWarning)
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def leaderboard_png(board: Leaderboard, names: dict[str, str] | None = None) -> bytes:
    """A card: horizontal bars of the top members' scores, the best at the top."""
    names = names or {}
    entries = board.entries[:10]
    fig = Figure(figsize=(6.4, 0.45 * max(len(entries), 2) + 1.2))
    ax = fig.subplots()
    # A name of only invisible characters would leave a bare rank: the id stands in.
    labels = [
        f"{e.rank}. {clean_label(names.get(e.user_id, e.user_id), 24) or clean_label(e.user_id, 24)}" for e in entries
    ]
    scores = [e.score for e in entries]
    ax.barh(range(len(entries)), scores, color=_ACCENT)
    ax.set_yticks(range(len(entries)), labels)
    ax.invert_yaxis()
    for i, s in enumerate(scores):
        ax.text(s, i, f" {s:g}", va="center", fontsize=9)
    where = f" · #{clean_label(board.channel_name or board.channel_id)}" if board.channel_id else ""
    ax.set_title(f"Most helpful{where}\n{board.window.label}", fontsize=11, loc="left")
    ax.set_xlabel("helpfulness score")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if not entries:
        ax.text(0.5, 0.5, "no helpful activity yet", ha="center", va="center", transform=ax.transAxes, color=_MUTED)
    return _png(fig)


def series_png(
    title: str,
    times: Sequence[float],
    values: Sequence[float],
    *,
    highlight_from: float | None = None,
    ylabel: str = "messages",
) -> bytes:
    """A bar chart of a time series (epoch seconds), highlighting bars from ``highlight_from`` on."""
    fig = Figure(figsize=(6.4, 2.8))
    ax = fig.subplots()
    # Matplotlib date numbers are days since its epoch (1970-01-01 unless reconfigured).
    xs = [t / 86400 for t in times]
    colors = [_ACCENT if highlight_from is not None and t >= highlight_from else _MUTED for t in times]
    width = (times[1] - times[0]) / 86400 * 0.9 if len(times) > 1 else 0.1
    ax.bar(xs, values, width=width, color=colors, align="edge")
    ax.xaxis_date()
    ax.set_title(clean_label(title, 80), fontsize=11, loc="left")
    ax.set_ylabel(ylabel)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.autofmt_xdate()
    return _png(fig)
