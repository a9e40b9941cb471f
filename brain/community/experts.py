"""Expert routing: who answered questions like this one well?

For a question we take its embedding neighbours among past threads (the QA index, under the asker's
access scope) and credit each thread's helpers, weighted by the neighbour's similarity:

* the author of the accepted answer (✅ by the asker, "Mark solved", or the asker's thanks): 3 points;
* other members who replied in the thread and received reactions from someone else: 1 point each;
* other repliers: 0.5.

Scores are summed over neighbours. Similar threads are few and noisy, so the content score is
smoothed with each member's overall helpfulness (empirical-Bayes style, no tuned constant): a member
who replied in a share ``p`` of all past threads is expected to earn ``p * REPLIED * Σ similarity``
from the same neighbours by chance, and that prior is added to what they actually earned. Members
who answered *these* topics still rank first; among the rest, habitual helpers beat one-off repliers.
Opted-out members, members who left, bots and the asker are never suggested. The baseline for evaluation is "most
active members" (message counts), see ``benchmarks/community_eval.py``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

ACCEPTED = 3.0
WELL_RECEIVED = 1.0
REPLIED = 0.5


@dataclass(frozen=True, slots=True)
class ThreadCredit:
    """Who helped in one thread."""

    thread_key: str
    asker_id: str
    accepted_author_id: str | None
    well_received: frozenset[str]
    repliers: frozenset[str]


def rank_experts(
    neighbours: Sequence[tuple[str, float]],
    credits: Mapping[str, ThreadCredit],
    *,
    exclude: Iterable[str] = (),
    k: int | None = 5,
    reply_share: Mapping[str, float] | None = None,
    allowed: Iterable[str] | None = None,
) -> list[tuple[str, float]]:
    """``(user_id, score)`` best first, from ``(thread_key, similarity)`` neighbours.

    ``reply_share`` (member -> share of past threads they replied in) adds the helpfulness prior.
    ``allowed``, when given, is the only members who may be suggested (those who can read the channel).
    ``k`` None: every member who scored.
    """
    banned = set(exclude)
    scores: dict[str, float] = defaultdict(float)
    mass = sum(max(sim, 0.0) for _, sim in neighbours)
    for user, share in (reply_share or {}).items():
        scores[user] += share * REPLIED * mass
    for thread_key, similarity in neighbours:
        credit = credits.get(thread_key)
        if credit is None:
            continue
        weight = max(similarity, 0.0)
        for user in credit.repliers:
            if user != credit.asker_id:
                scores[user] += REPLIED * weight
        for user in credit.well_received:
            if user != credit.asker_id:
                scores[user] += WELL_RECEIVED * weight
        if credit.accepted_author_id and credit.accepted_author_id != credit.asker_id:
            scores[credit.accepted_author_id] += ACCEPTED * weight
    only = None if allowed is None else set(allowed)
    ranked = sorted(
        ((u, s) for u, s in scores.items() if u not in banned and s > 0 and (only is None or u in only)),
        key=lambda x: (-x[1], x[0]),
    )
    return ranked if k is None else ranked[:k]


def most_active(message_counts: Mapping[str, int], *, exclude: Iterable[str] = (), k: int = 5) -> list[str]:
    """The baseline: members with the most messages."""
    banned = set(exclude)
    return [u for u, _ in sorted(message_counts.items(), key=lambda x: (-x[1], x[0])) if u not in banned][:k]


def reply_shares(credits: Iterable[ThreadCredit]) -> dict[str, float]:
    """Share of threads each member replied in (the helpfulness prior)."""
    counts: dict[str, int] = defaultdict(int)
    total = 0
    for credit in credits:
        total += 1
        for user in credit.repliers:
            counts[user] += 1
    return {u: c / total for u, c in counts.items()} if total else {}
