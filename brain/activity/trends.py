"""Topic-burst detection: terms whose volume jumps against their *own* baseline.

Method (per channel x term, where terms are technical tokens and adjacent bigrams such as
``poetry lock``):

1. Time is cut into fixed windows of ``window_hours`` (3 h by default). A term's count in a window
   is the number of distinct messages mentioning it.
2. Each term, and each channel's total message count, keeps an exponentially weighted moving average
   (EWMA, weight ``alpha``) per window. Empty windows are applied lazily in closed form
   (``m * (1 - alpha) ** gap``), so only terms that occur cost anything.
3. A term's baseline is its *share* of the channel's traffic (term EWMA / channel EWMA). When a
   window with ``n`` messages closes, the expected count is ``e = max(share * n, floor)``, so a
   generally busy day, or the first hours after a long silence, is not a topic burst. The count
   ``c`` is judged under a Poisson model: the window is a burst when ``c >= min_count``,
   ``c >= min_ratio * e``, at least ``min_authors`` different people said it, and the Poisson tail
   ``P(X >= c | e)`` is below ``p_value``. The floor stops never-seen terms from being infinitely
   surprising; the author rule stops one person repeating a word.
4. A channel must have a baseline before it can raise bursts: ``min_history_windows`` since its
   first message (the first days of a replay are all "new"), and traffic in that history of at
   least ``min_history_messages`` messages spread over ``min_active_windows`` windows. Time alone
   is no baseline: a channel with one message a week ago would otherwise call any five messages
   in a row a burst against the floor. A burst whose expected count is the floor is a term the
   channel (almost) never used, and is reported as new (``Burst.new``), not as "up 17x".
5. Within one channel and window, a unigram contained in a bursting bigram is dropped (report
   ``poetry lock``, not also ``poetry`` and ``lock``), and terms naming a member (IRC-style
   ``nick: try this`` addressing) are not topics.
6. Bursting terms of one channel and window that mostly share their messages are one event
   (``poetry lock`` and ``lock error`` from the same error reports): the strongest is reported and
   the others are listed as ``related``, so one incident is one alert.

The same parameters are used on every dataset; nothing is tuned per corpus.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from bot.words import MARKS, UNSPACED, nfc, unspaced_pairs


def _words(text: str) -> frozenset[str]:
    """A word set from whitespace-separated text (long lists read better as prose)."""
    return frozenset(text.split())


# A word of any script starting with a letter, keeping technical joins (``c++``, ``.env`` after
# stripping, ``py3.11``, ``err_code``). It was ASCII only: a Russian or Chinese community's topics
# never burst (the words were invisible, or cut at the first accented letter: "für" -> "f"). A word
# runs on through combining marks, which ``\w`` leaves out: Hindi "सर्वर" was "सर" + "वर".
_TOKEN = re.compile(rf"[^\W\d_](?:[\w{MARKS}.+#-]*(?:[^\W_]|[{MARKS}+#]))?")
# Han and kana are written without spaces: a run is one regex word however long (a whole sentence),
# so it is split into overlapping character pairs, as the lexical search does.
_UNSPACED_RUN = re.compile(f"([{UNSPACED}]+)")
_URL = re.compile(r"https?://\S+|<[^<>]+>")
STOPWORDS = _words("""a about above after again all also am an and any anyone are as at be because been before being below
    between both but by can cannot could did do does doing don done down during each else even ever every few
    for from get gets getting got had has have having he her here hers him his how i if in into is isn it its
    itself just know let like make may me might more most much must my need no nor not now of off ok okay on
    once one only or other our out over own please pretty probably really right same see seems she should so
    some still such sure than thank thanks that the their them then there these they thing think this those
    though through thx to too try trying two up us use used using very via want was way we well were what when
    where which while who why will with without would yeah yes yet you your yours im ive dont doesnt didnt cant
    isnt thats whats lol hi hey hello guys people someone something anything good new work works working
    there's it's i'm don't can't doesn't didn't isn't that's what's you're i've i'll let's""")


def term_positions(text: str) -> dict[str, int]:
    """Each term of :func:`tokenize` with the word position where it first appears."""
    words = _kept_words(text)
    out: dict[str, int] = {}
    for i, w in enumerate(words):
        out.setdefault(w, i)
    for i, (a, b) in enumerate(itertools.pairwise(words)):
        out.setdefault(_bigram(a, b), i)
    return out


def _bigram(a: str, b: str) -> str:
    """Two adjacent terms as one: ``poetry lock``; two overlapping Han/kana pairs of one run make
    its three characters (``数据`` + ``据库`` -> ``数据库``), not a spaced pair."""
    if len(a) == 2 and len(b) == 2 and a[1] == b[0] and _UNSPACED_RUN.fullmatch(a + b[1]):
        return a + b[1]
    return f"{a} {b}"


def _kept_words(text: str) -> list[str]:
    words: list[str] = []
    for token in _TOKEN.findall(_URL.sub(" ", nfc(text))):
        word = token.lower().strip(".-")
        if word.isascii() or not _UNSPACED_RUN.search(word):
            words.append(word)
            continue
        for k, piece in enumerate(_UNSPACED_RUN.split(word)):
            if k % 2:  # a run of Han / kana
                words.extend(unspaced_pairs(piece))  # a lone character is dropped below (too short)
            elif piece:
                words.append(piece.strip(".-"))
    return [w for w in words if len(w) > 1 and w not in STOPWORDS and not w.isdigit()]


def tokenize(text: str) -> list[str]:
    """Technical terms of a message: lower-cased tokens of any script (keeping ``c++``, ``.env``,
    ``py3.11``-like words; Han and kana as character pairs) without stopwords, plus adjacent-token
    bigrams (``poetry lock``, ``数据库``)."""
    kept = _kept_words(text)
    bigrams = [_bigram(a, b) for a, b in itertools.pairwise(kept)]
    return kept + bigrams


@dataclass(frozen=True, slots=True)
class Post:
    """A message as the detectors see it."""

    ts: float
    channel_id: str
    author_id: str
    message_id: str
    text: str


@dataclass(frozen=True, slots=True)
class Burst:
    """A term whose count in a window jumped against its own baseline."""

    channel_id: str
    term: str
    window_start: float
    window_end: float
    count: int
    expected: float
    p_value: float
    message_ids: tuple[str, ...]
    related: tuple[str, ...] = ()
    # The expected count was the floor: the channel (almost) never used the term, so "up 17x" would
    # be a ratio against a made-up rate.
    new: bool = False

    @property
    def ratio(self) -> float:
        """Observed over expected count."""
        return self.count / self.expected

    @property
    def key(self) -> str:
        """Stable identity for de-duplication: the same burst is reported once, then updated."""
        return f"burst:{self.channel_id}:{self.term}"


@dataclass(frozen=True, slots=True)
class BurstParams:
    """Detector settings (shared by the bot and the real-data evaluation)."""

    window_hours: float = 3.0
    alpha: float = 0.05
    floor: float = 0.3
    min_count: int = 5
    min_ratio: float = 4.0
    min_authors: int = 3
    p_value: float = 1e-4
    min_history_windows: int = 56  # one week of 3-hour windows
    # Baseline traffic before a channel can burst: this many messages, in at least this many windows.
    min_history_messages: int = 30
    min_active_windows: int = 14


def poisson_sf(k: int, mean: float) -> float:
    """``P(X >= k)`` for ``X ~ Poisson(mean)``, summed in log space for stability."""
    if k <= 0:
        return 1.0
    log_p = -mean
    below = 0.0
    for i in range(k):
        if i > 0:
            log_p += math.log(mean) - math.log(i)
        below += math.exp(log_p)
    return max(0.0, 1.0 - below)


@dataclass(slots=True)
class _TermState:
    mean: float = 0.0
    last_window: int | None = None


@dataclass(slots=True)
class BurstDetector:
    """Streaming detector: feed posts in time order with :meth:`add`, collect bursts from
    :meth:`close_until` (or :meth:`flush`). ``origin`` aligns windows (e.g. so the last one ends now)."""

    params: BurstParams = field(default_factory=BurstParams)
    origin: float = 0.0
    _states: dict[tuple[str, str], _TermState] = field(default_factory=dict)
    _channel_first: dict[str, int] = field(default_factory=dict)
    _current: int | None = None
    _counts: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)  # term -> {message_id: author}
    # Sum of the word positions at which a term first appears in its messages (tie-breaks merges).
    _positions: dict[tuple[str, str], int] = field(default_factory=dict)
    _channel_states: dict[str, _TermState] = field(default_factory=dict)
    _channel_n: dict[str, int] = field(default_factory=dict)
    # Per channel: messages and windows with traffic in closed windows (how much baseline there is).
    _channel_total: dict[str, int] = field(default_factory=dict)
    _channel_windows: dict[str, int] = field(default_factory=dict)
    _authors: set[str] = field(default_factory=set)

    def _window(self, ts: float) -> int:
        return math.floor((ts - self.origin) / (self.params.window_hours * 3600))

    def add(self, post: Post) -> list[Burst]:
        """Add a post; returns bursts of windows that closed because time moved past them."""
        w = self._window(post.ts)
        closed: list[Burst] = []
        if self._current is not None and w > self._current:
            closed = self._close()
        self._current = w if self._current is None or w > self._current else self._current
        self._channel_first.setdefault(post.channel_id, w)
        self._channel_n[post.channel_id] = self._channel_n.get(post.channel_id, 0) + 1
        self._authors.add(post.author_id.lower())
        for term, position in term_positions(post.text).items():
            msgs = self._counts.setdefault((post.channel_id, term), {})
            if post.message_id not in msgs:
                key = (post.channel_id, term)
                self._positions[key] = self._positions.get(key, 0) + position
            msgs[post.message_id] = post.author_id
        return closed

    def close_until(self, ts: float) -> list[Burst]:
        """Close the open window if ``ts`` lies past it."""
        if self._current is not None and self._window(ts) > self._current:
            return self._close()
        return []

    def flush(self) -> list[Burst]:
        """Close the open window now (end of a replay, or the window that ends at ``origin``)."""
        return self._close() if self._current is not None else []

    def _close(self) -> list[Burst]:
        assert self._current is not None
        w, p = self._current, self.params
        channel_means = {c: _decayed(self._channel_states.get(c), w, p.alpha) for c in self._channel_n}
        baseline = {
            c: w - self._channel_first.get(c, w) >= p.min_history_windows
            and self._channel_total.get(c, 0) >= p.min_history_messages
            and self._channel_windows.get(c, 0) >= p.min_active_windows
            for c in self._channel_n
        }
        found: list[Burst] = []
        for (channel, term), msgs in self._counts.items():
            state = self._states.setdefault((channel, term), _TermState())
            mean = _decayed(state, w, p.alpha)
            count = len(msgs)
            share = mean / channel_means[channel] if channel_means[channel] > 0 else 0.0
            expected = max(share * self._channel_n[channel], p.floor)
            if (
                baseline[channel]
                and not any(part in self._authors for part in term.split())
                and count >= p.min_count
                and count >= p.min_ratio * expected
                and len(set(msgs.values())) >= p.min_authors
            ):
                pv = poisson_sf(count, expected)
                if pv < p.p_value:
                    start = self.origin + w * p.window_hours * 3600
                    found.append(
                        Burst(
                            channel,
                            term,
                            start,
                            start + p.window_hours * 3600,
                            count,
                            expected,
                            pv,
                            tuple(msgs),
                            new=share * self._channel_n[channel] <= p.floor,
                        )
                    )
            state.mean = p.alpha * count + (1 - p.alpha) * mean
            state.last_window = w
        for channel, n in self._channel_n.items():
            cstate = self._channel_states.setdefault(channel, _TermState())
            cstate.mean = p.alpha * n + (1 - p.alpha) * channel_means[channel]
            cstate.last_window = w
            self._channel_total[channel] = self._channel_total.get(channel, 0) + n
            self._channel_windows[channel] = self._channel_windows.get(channel, 0) + 1
        positions = {b.term: self._positions.get((b.channel_id, b.term), 0) / max(b.count, 1) for b in found}
        self._counts = {}
        self._positions = {}
        self._channel_n = {}
        return _drop_covered(found, positions)


def _decayed(state: _TermState | None, window: int, alpha: float) -> float:
    """The EWMA as of just before ``window``: the empty windows since its last update applied lazily."""
    if state is None or state.last_window is None:
        return 0.0
    return state.mean * (1 - alpha) ** max(window - state.last_window - 1, 0)


def _parts(term: str) -> list[str]:
    """The unigrams a term is made of: a bigram's two words, a Han/kana bigram's two pairs."""
    if " " in term:
        return term.split()
    if len(term) == 3 and _UNSPACED_RUN.fullmatch(term):
        return [term[:2], term[1:]]
    return [term]


def _drop_covered(bursts: list[Burst], positions: dict[str, float] | None = None) -> list[Burst]:
    """Drop unigram bursts whose word is part of a bursting bigram in the same channel."""
    covered = {(b.channel_id, part) for b in bursts if len(parts := _parts(b.term)) > 1 for part in parts}
    kept = [b for b in bursts if len(_parts(b.term)) > 1 or (b.channel_id, b.term) not in covered]
    return _merge_overlapping(kept, positions or {})


def _merge_overlapping(bursts: list[Burst], positions: dict[str, float]) -> list[Burst]:
    """Fold bursts that share at least half of the smaller one's messages into the strongest.

    Strongest: lowest p-value, then highest ratio; on a tie (the same messages, so usually the same
    numbers) the term that comes earliest in the messages wins: people lead with the subject
    ("poetry lock fails ..."), and the words after it ("lock error", "error upgrading") follow it.
    """
    ordered = sorted(
        bursts, key=lambda b: (b.p_value, -b.ratio, positions.get(b.term, 0.0), len(_parts(b.term)) == 1, b.term)
    )
    kept: list[Burst] = []
    for b in ordered:
        ids = set(b.message_ids)
        for i, k in enumerate(kept):
            if k.channel_id == b.channel_id and len(ids & set(k.message_ids)) * 2 >= min(len(ids), len(k.message_ids)):
                kept[i] = replace(k, related=(*k.related, b.term))
                break
        else:
            kept.append(b)
    return kept


def detect_bursts(posts: Iterable[Post], *, now: float, params: BurstParams | None = None) -> list[Burst]:
    """Bursts in the window ending at ``now``, judged against the history in ``posts``.

    Windows are aligned so the last one is ``[now - window, now)``; posts must be in time order.
    """
    p = params or BurstParams()
    detector = BurstDetector(p, origin=now)
    for post in posts:
        if post.ts < now:
            detector.add(post)
    last = detector.flush()
    window_start = now - p.window_hours * 3600
    return [b for b in last if b.window_start >= window_start - 1]
