"""Plain-text rendering of leaderboards (monospace tables that survive Slack and Discord)."""

from __future__ import annotations

import unicodedata

from bot.valid_text import clip
from brain.activity.leaderboard import Leaderboard
from brain.activity.scoring import score_text


def leaderboard_text(board: Leaderboard, names: dict[str, str] | None = None) -> str:
    """A code-block table: rank, member, score and the counts behind it."""
    names = names or {}
    where = f" in #{board.channel_name or board.channel_id}" if board.channel_id else ""
    title = f"Helpfulness leaderboard{where} ({board.window.label})"
    if not board.entries:
        return f"*{title}*\nNo helpful activity yet in this window."
    header = ("#", "member", "score", "helpful", "answered", "replies", "reactions")
    body = [
        (
            str(e.rank),
            _clip(names.get(e.user_id, e.user_id), 20) or _clip(e.user_id, 20),
            score_text(e.score),
            str(e.counts["helpful"]),
            str(e.counts["answered"]),
            str(e.counts["replies"]),
            str(e.counts["reactions"]),
        )
        for e in board.entries
    ]
    widths = [max(_width(r[i]) for r in (header, *body)) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        # Padded by display width: a CJK name takes two columns a character.
        return "  ".join(
            c + " " * (w - _width(c)) if i == 1 else " " * (w - _width(c)) + c
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    table = "\n".join([line(header), *(line(r) for r in body)])
    t = board.totals
    footer = (
        f"{board.members} members active · {t.get('messages', 0)} messages · "
        f"{t.get('helpful', 0)} helpful answers · {t.get('answered', 0)} questions answered"
    )
    return f"*{title}*\n```\n{table}\n```\n{footer}"


def _clip(text: str, width: int) -> str:
    # Names can carry control characters or be huge, and a ``` in one would end the table's code block.
    clean = "".join(ch for ch in text if ch.isprintable()).replace("`", "'")
    return clip(clean, width)


def _width(text: str) -> int:
    """Columns ``text`` takes in a monospace font (wide and full-width characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)
