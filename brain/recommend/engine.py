"""What the recommender learns from history before a point in time, and the features it scores.

Shared by the live brain, the CLI and the offline evaluation so all three rank the same way.
Embeddings stay outside: callers resolve the ids returned by :func:`member_touches` to vectors
(thread units live, message vectors offline).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from bot.conversations import conversation_keys
from bot.ml import Vector
from bot.store import MessageRow, ReactionRow
from brain.recommend.activity_prior import ActivityPrior
from brain.recommend.candidates import ThreadItem, build_threads, conversation_kind, is_counted
from brain.recommend.cf import ImplicitMF
from brain.recommend.ranker import FEATURES, Features, freshness


@dataclass(frozen=True, slots=True)
class Touch:
    """One interaction of a member: ``ref`` is the message id (``wrote``) or thread id (``replied``)."""

    ref: str
    thread: str
    ts: float
    kind: str


@dataclass
class Snapshot:
    """Everything learned from messages before ``now``."""

    now: float
    threads: dict[str, ThreadItem]
    touches: dict[str, list[Touch]]
    prior: ActivityPrior
    mf: ImplicitMF
    started_by: dict[str, list[str]] = field(default_factory=dict)
    replied_to_author: dict[str, dict[str, int]] = field(default_factory=dict)

    def message_count(self, user: str) -> int:
        """Messages the member wrote before ``now``."""
        return sum(1 for t in self.touches.get(user, ()) if t.kind == "wrote")


def build_snapshot(
    messages: Sequence[MessageRow],
    now: float,
    *,
    reactions: Sequence[ReactionRow] = (),
    cf_factors: int = 16,
    seed: int = 0,
    windows: bool = True,
    starts: Mapping[str, ThreadItem] | None = None,
) -> Snapshot:
    """Learn conversations, touches, the activity prior, CF factors and reply affinities from
    ``messages`` (time order) strictly before ``now``; ``reactions`` to those messages add
    "reacted" touches (interest, not participation: no CF or activity signal). ``windows``: cut
    unthreaded chat into conversation windows (see ``candidates``). ``starts``: threads whose
    roots are older than ``messages`` (see :func:`~brain.recommend.candidates.build_threads`), so
    their starters are the real ones here too (reply affinities, "replied" touches)."""
    past = [m for m in messages if m.ts < now and is_counted(m)]
    keys = conversation_keys(past, windows=windows)
    threads = build_threads(past, keys=keys, starts=starts)
    touches: dict[str, list[Touch]] = defaultdict(list)
    stamps: dict[str, list[float]] = defaultdict(list)
    participation: dict[tuple[str, str], float] = defaultdict(float)
    started_by: dict[str, list[str]] = defaultdict(list)
    affinity: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for t in threads.values():
        started_by[t.author_id].append(t.thread_id)
    for m in past:
        key = keys[m.message_id]
        touches[m.author_id].append(Touch(m.message_id, key, m.ts, "wrote"))
        stamps[m.author_id].append(m.ts)
        participation[(m.author_id, key)] += 1.0
        starter = threads[key].author_id
        if starter != m.author_id:
            affinity[m.author_id][starter] += 1
            if participation[(m.author_id, key)] == 1.0:
                touches[m.author_id].append(Touch(key, key, m.ts, "replied"))
    if reactions:
        reacted_to = {m.message_id: m for m in past}
        reactors: set[str] = set()
        for r in reactions:
            target = reacted_to.get(r.message_id)
            if target is None or r.ts >= now or r.user_id == target.author_id:  # one's own message says nothing
                continue
            key = keys[target.message_id]
            touches[r.user_id].append(Touch(key, key, r.ts, "reacted"))
            reactors.add(r.user_id)
        for user in reactors:  # profiles take each member's latest touches: keep them in time order
            touches[user].sort(key=lambda t: t.ts)
    mf = ImplicitMF(factors=cf_factors, seed=seed).fit((u, t, n) for (u, t), n in participation.items())
    return Snapshot(
        now,
        threads,
        dict(touches),
        ActivityPrior().fit(stamps),
        mf,
        dict(started_by),
        {u: dict(a) for u, a in affinity.items()},
    )


def member_touches(snapshot: Snapshot, user: str, *, limit: int = 300) -> list[Touch]:
    """The member's most recent interactions (newest last)."""
    return snapshot.touches.get(user, [])[-limit:]


def features(
    snapshot: Snapshot,
    user: str,
    items: Sequence[ThreadItem],
    item_vectors: Mapping[str, Vector],
    profile: Vector | None,
    *,
    lookback_days: float,
) -> npt.NDArray[np.float64]:
    """Feature rows (``ranker.FEATURES`` order) for ``user`` × ``items``."""
    affinity = snapshot.replied_to_author.get(user, {})
    rows = []
    for item in items:
        vec = item_vectors.get(item.thread_id)
        content = float(np.dot(profile, vec)) if profile is not None and vec is not None else 0.0
        cf = snapshot.mf.score(user, item.thread_id, fallback_items=snapshot.started_by.get(item.author_id, ()))
        # A thread's moment is when it opened if that is still ahead of us (offline evaluation),
        # else its latest activity.
        moment = item.ts_start if item.ts_start >= snapshot.now else item.ts_last
        rows.append(
            Features(
                content=content,
                cf=cf,
                activity=snapshot.prior.score(user, moment),
                freshness=freshness(item.ts_last, snapshot.now, lookback_days),
                popularity=math.log1p(len(item.participants)),
                social=math.log1p(affinity.get(item.author_id, 0)),
                # Questions draw replies; a statement rarely turns into a thread to join.
                question=1.0 if "?" in item.opening_text else 0.0,
            ).as_array()
        )
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))


def opening_items(messages: Iterable[MessageRow], since: float, *, windows: bool = True) -> dict[str, ThreadItem]:
    """Conversations opened at or after ``since``, known only by their opening message (offline
    catalogue); ``windows`` as in :func:`build_snapshot`."""
    live = [m for m in messages if m.ts >= since and is_counted(m)]
    keys = conversation_keys(live, windows=windows)
    thread_ids = {m.thread_id for m in live if m.thread_id}
    out: dict[str, ThreadItem] = {}
    for m in live:
        key = keys[m.message_id]
        if key == m.message_id and key not in out:
            kind = conversation_kind(key, thread_ids)
            out[key] = ThreadItem(
                key, m.channel_id, m.author_id, m.ts, m.ts, m.text, m.message_id, m.permalink, 1, {m.author_id: 1}, kind
            )
    return out
