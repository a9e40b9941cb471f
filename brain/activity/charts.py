"""PNG charts (matplotlib's object API rendered by the Agg canvas: no pyplot figure registry to leak,
no display needed). A chart takes ~0.1 s; the heavy trend detection runs in a worker thread instead.

Every label here can come from members (display names, channel names): ``$`` is escaped (a name
like ``$^^$`` would otherwise be parsed as mathtext and raise) and control characters are stripped.

Fonts: no CJK (or Devanagari, Thai, colour emoji ...) font ships with matplotlib, and none can be
fetched offline, so such names render as boxes. A label whose glyphs are mostly missing from the
chart font is drawn as its compatibility form when that one is drawable (full-width ``ｆｕｌｌ`` as
``full``), else as ``[CJK name]`` (the script it is written in), and the text table posted with
every chart shows the real name. Installing a font that covers the script (and listing it in
matplotlib's ``font.sans-serif``) makes the names draw as they are.
"""

from __future__ import annotations

import functools
import io
import unicodedata
import warnings
from collections.abc import Sequence

from matplotlib import font_manager, rcParams
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font

from bot.valid_text import clip
from brain.activity.leaderboard import Leaderboard
from brain.activity.scoring import score_text

_ACCENT = "#4f6bed"
_MUTED = "#9aa3b5"

# Format characters that are not "printable" but build what members see: the zero-width joiner
# glues emoji sequences (👩🏽‍💻 is woman + skin tone + ZWJ + laptop) and, with the non-joiner, shapes
# letters in several scripts. Tag characters spell subdivision flags. Bidi overrides and zero-width
# spaces stay out: they only hide or reorder text.
_JOINERS = frozenset("\u200c\u200d")
_TAGS = range(0xE0020, 0xE0080)
_SKIN_TONES = range(0x1F3FB, 0x1F400)
_REGIONAL = range(0x1F1E6, 0x1F200)


def clean_label(text: str, width: int = 40, *, middle: bool = False) -> str:
    """``text`` as a chart label: control and bidi characters stripped (emoji joiners kept),
    clipped to ``width`` characters (in the ``middle`` for names: members named alike mostly
    differ at the start or the end), never inside an emoji sequence, ``$`` escaped; a label
    mostly missing from the chart font gets a readable stand-in (module docstring). ``""`` when
    nothing visible is left."""
    kept = "".join(ch for ch in text if ch.isprintable() or ch in _JOINERS or ord(ch) in _TAGS)
    if all(not _needs_glyph(ch) for ch in kept):
        return ""
    kept = _drawable_form(kept)
    clipped = _clip_middle(kept, width) if middle else clip(kept, width)
    return clipped.replace("$", r"\$")


def _needs_glyph(ch: str) -> bool:
    """Whether ``ch`` draws something of its own (not a space, mark, joiner or modifier)."""
    return not (
        ch.isspace()
        or unicodedata.combining(ch)
        or unicodedata.category(ch) in ("Mn", "Me", "Cf")
        or ch in _JOINERS
        or ord(ch) in _TAGS
        or ord(ch) in _SKIN_TONES
        or ch in "\ufe0e\ufe0f"
    )


@functools.cache
def _font_chars() -> frozenset[int]:
    """Code points the chart font can draw, with the fallback fonts matplotlib would use."""
    generic = {
        "serif": rcParams["font.serif"],
        "sans-serif": rcParams["font.sans-serif"],
        "cursive": rcParams["font.cursive"],
        "fantasy": rcParams["font.fantasy"],
        "monospace": rcParams["font.monospace"],
    }
    families: list[str] = []
    for family in font_manager.FontProperties().get_family():
        families += list(generic.get(family, [family]))
    chars: set[int] = set()
    for family in dict.fromkeys(families):
        try:
            path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
        except ValueError:
            continue  # not installed
        chars |= set(FT2Font(path).get_charmap())
    return frozenset(chars)


def _mostly_missing(text: str) -> bool:
    glyphs = [ch for ch in text if _needs_glyph(ch)]
    missing = sum(1 for ch in glyphs if ord(ch) not in _font_chars())
    return missing * 2 > len(glyphs)


def _drawable_form(text: str) -> str:
    """``text``, or when more than half of its glyphs are missing from the chart font, its NFKC
    form if that draws (``ｆｕｌｌ`` → ``full``, ``𝔘𝔫𝔦`` → ``Uni``), else ``[<script> name]``."""
    if not _mostly_missing(text):
        return text
    compatible = unicodedata.normalize("NFKC", text)
    if not _mostly_missing(compatible):
        return compatible
    first = next(ch for ch in text if _needs_glyph(ch) and ord(ch) not in _font_chars())
    if not unicodedata.category(first).startswith("L"):
        return "[emoji name]"
    # Unicode names start with the script: "CJK UNIFIED IDEOGRAPH-5C71", "DEVANAGARI LETTER NA".
    script = unicodedata.name(first, "OTHER").split()[0]
    return f"[{script if len(script) <= 3 else script.title()} name]"


def _clip_middle(text: str, width: int, ellipsis: str = "…") -> str:
    """``text`` cut to ``width`` characters by dropping its middle; never inside an emoji sequence."""
    if len(text) <= width:
        return text
    room = max(width - len(ellipsis), 2)
    tail = room * 2 // 5
    head = clip(text, room - tail, ellipsis="")
    start = len(text) - tail
    while start < len(text) and not _starts_cluster(text, start):
        start += 1
    return f"{head.rstrip()}{ellipsis}{text[start:].lstrip()}"


def _starts_cluster(text: str, i: int) -> bool:
    """Whether ``text[i]`` starts a user-perceived character (cutting before it splits nothing)."""
    ch, prev = text[i], text[i - 1] if i else ""
    if unicodedata.combining(ch) or ch in "\u200d\ufe0e\ufe0f" or ord(ch) in _SKIN_TONES or ord(ch) in _TAGS:
        return False
    if prev == "\u200d":
        return False
    if ord(ch) in _REGIONAL and prev and ord(prev) in _REGIONAL:
        run = i  # flags are pairs of regional indicators: cut between pairs
        while run > 0 and ord(text[run - 1]) in _REGIONAL:
            run -= 1
        return (i - run) % 2 == 0
    return True


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
        f"{e.rank}. {clean_label(names.get(e.user_id, e.user_id), 24, middle=True) or clean_label(e.user_id, 24)}"
        for e in entries
    ]
    scores = [e.score for e in entries]
    ax.barh(range(len(entries)), scores, color=_ACCENT)
    ax.set_yticks(range(len(entries)), labels)
    ax.invert_yaxis()
    for i, s in enumerate(scores):
        ax.text(s, i, f" {score_text(s)}", va="center", fontsize=9)
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
