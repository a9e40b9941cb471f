"""Profiles, CF, the activity prior and the ranker: pure functions on small hand-made data."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from brain.recommend.activity_prior import ActivityPrior, hour_of_week
from brain.recommend.cf import ImplicitMF
from brain.recommend.profile import build_profile, cold_start_profile, decayed_update, normalised
from brain.recommend.ranker import FEATURES, learn_weights, standardise

DAY = 86400.0


def _unit(*xs: float) -> np.ndarray:
    v = np.array(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_profile_leans_to_recent_interactions() -> None:
    vecs = np.stack([_unit(1, 0), _unit(0, 1)])
    profile = build_profile(vecs, [0.0, 30 * DAY], ["wrote", "wrote"], now=30 * DAY, half_life_days=7)
    assert profile is not None
    assert profile[1] > 0.9 > profile[0]


def test_profile_weighs_writing_over_reacting() -> None:
    vecs = np.stack([_unit(1, 0), _unit(0, 1)])
    profile = build_profile(vecs, [0.0, 0.0], ["wrote", "reacted"], now=0.0, half_life_days=7)
    assert profile is not None and profile[0] > profile[1]


def test_empty_history_has_no_profile() -> None:
    assert build_profile(np.zeros((0, 2), np.float32), [], [], now=0.0, half_life_days=7) is None


def test_incremental_update_matches_batch_profile() -> None:
    rng = np.random.default_rng(3)
    vecs = rng.normal(size=(5, 8)).astype(np.float32)
    stamps = [0.0, DAY, 3 * DAY, 3.5 * DAY, 9 * DAY]
    total, last = None, 0.0
    for v, ts in zip(vecs, stamps, strict=True):
        total, last = decayed_update(total, last, v, ts, weight=1.0, half_life_days=5)
    batch = build_profile(vecs, stamps, ["wrote"] * 5, now=9 * DAY, half_life_days=5)
    assert batch is not None
    np.testing.assert_allclose(normalised(total), batch, atol=1e-5)


def test_cold_start_uses_channels_and_popular_threads() -> None:
    prof = cold_start_profile(np.stack([_unit(1, 0)]), np.stack([_unit(0, 1)]))
    assert prof is not None
    np.testing.assert_allclose(prof, _unit(1, 1), atol=1e-6)
    assert cold_start_profile(np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)) is None


def test_cf_recommends_what_similar_members_joined() -> None:
    # a and b share threads t1, t2; b also joined t3, so t3 should beat t4 (joined only by c) for a.
    data = [
        ("a", "t1", 1),
        ("a", "t2", 1),
        ("b", "t1", 1),
        ("b", "t2", 1),
        ("b", "t3", 1),
        ("c", "t4", 1),
        ("c", "t5", 1),
    ]
    mf = ImplicitMF(factors=4, iterations=15, seed=1).fit(data)
    assert mf.score("a", "t3") > mf.score("a", "t4")
    # An unseen thread folds in from its starter's earlier threads; an unknown member gets μ + bias.
    assert mf.score("a", "new", fallback_items=["t3"]) > mf.score("a", "new", fallback_items=["t4"])
    assert np.isfinite(mf.score("stranger", "t1"))


def test_cf_is_deterministic_for_a_seed() -> None:
    data = [("a", "t1", 2.0), ("b", "t1", 1.0), ("b", "t2", 1.0)]
    one = ImplicitMF(seed=7).fit(data).score("a", "t2")
    two = ImplicitMF(seed=7).fit(data).score("a", "t2")
    assert one == two


def test_hour_of_week_starts_monday() -> None:
    monday = datetime(2026, 1, 5, 0, 30, tzinfo=UTC).timestamp()
    assert hour_of_week(monday) == 0
    assert hour_of_week(monday + 25 * 3600) == 25
    assert hour_of_week(monday, utc_offset_s=-3600) == 167


def test_activity_prior_prefers_members_usual_hours() -> None:
    monday9 = datetime(2026, 1, 5, 9, tzinfo=UTC).timestamp()
    prior = ActivityPrior().fit({"owl": [monday9 + 14 * 3600 + w * 7 * DAY for w in range(20)], "lark": [monday9]})
    assert prior.score("owl", monday9 + 14 * 3600 + 70 * DAY) > 0 > prior.score("owl", monday9 + 3 * DAY)
    assert np.isfinite(prior.score("unknown", monday9))


def test_learned_weights_find_the_informative_feature() -> None:
    rng = np.random.default_rng(0)
    lists, labels = [], []
    for _ in range(20):
        x = rng.normal(size=(30, len(FEATURES)))
        y = (x[:, FEATURES.index("activity")] > 1.0).astype(int)
        lists.append(x)
        labels.append(y)
    w = learn_weights(lists, labels).weights
    assert w["activity"] == max(w.values())


def test_standardise_keeps_constant_columns_finite() -> None:
    z = standardise(np.array([[1.0, 5.0], [3.0, 5.0]]))
    assert np.all(np.isfinite(z)) and z[0, 0] < 0 < z[1, 0]


class _StoredUnits:
    """A unit index holding vectors for some thread units (what the QA indexer stored)."""

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self._vectors = vectors
        self.asked: list[str] = []

    async def vectors(self, unit_ids: list[str]) -> dict[str, np.ndarray]:
        self.asked.extend(unit_ids)
        return {u: self._vectors[u] for u in unit_ids if u in self._vectors}


async def test_thread_vectors_reuse_the_qa_units_and_embed_only_the_rest() -> None:
    from bot.testing import HashEmbedder
    from brain.recommend.content import index_vectors

    stored = _unit(1, 0, 0)
    index = _StoredUnits({"thread:slack:T:t1#0": stored})
    embedder = HashEmbedder(dim=3)
    out = await index_vectors(
        index,  # type: ignore[arg-type]
        embedder,
        {"t1": "already indexed", "t2": "new thread"},
        unit_id=lambda t: f"thread:slack:T:{t}#0",
    )
    assert np.array_equal(out["t1"], stored)  # the QA unit's vector, not a new one
    assert embedder.texts_embedded == 1 and set(out) == {"t1", "t2"}
    assert sorted(index.asked) == ["thread:slack:T:t1#0", "thread:slack:T:t2#0"]


def test_cf_never_builds_the_dense_matrix() -> None:
    # 3,000 members x 20,000 threads would be 480 MB per dense float matrix; the sparse solver
    # only touches observed cells.
    rng = np.random.default_rng(0)
    triples = [(f"u{rng.integers(3000)}", f"t{rng.integers(20000)}", 1.0) for _ in range(6000)]
    mf = ImplicitMF(factors=4, iterations=1).fit(triples)
    assert mf.user_factors.shape[1] == 4 and np.isfinite(mf.item_factors).all()
    assert 0.0 < mf.mu < 0.01


def test_snapshot_counts_reactions_as_reacted_touches_in_time_order() -> None:
    from bot.store import MessageRow, ReactionRow
    from brain.recommend.engine import build_snapshot

    messages = [
        MessageRow("slack", "T", "1.0", "C", "ana", 100.0, "asyncio question?", thread_id="1.0"),
        MessageRow("slack", "T", "1.1", "C", "bob", 160.0, "use gather", thread_id="1.0"),
        MessageRow("slack", "T", "2.0", "C", "bob", 300.0, "django migrations?", thread_id="2.0"),
    ]
    reactions = [
        ReactionRow("slack", "T", "1.1", "cy", "+1", 200.0),  # cy liked the asyncio answer
        ReactionRow("slack", "T", "2.0", "bob", "eyes", 310.0),  # on one's own message: no signal
        ReactionRow("slack", "T", "2.0", "cy", "+1", 900.0),  # after the snapshot's time
        ReactionRow("slack", "T", "9.9", "cy", "+1", 250.0),  # on a message outside the history
        ReactionRow("slack", "T", "1.1", "ana", "+1", 50.0),  # listed last, older than ana's writing
    ]
    snap = build_snapshot(messages, 500.0, reactions=reactions)
    assert [(t.thread, t.kind) for t in snap.touches["cy"]] == [("1.0", "reacted")]
    assert [(t.kind, t.ts) for t in snap.touches["ana"]] == [("reacted", 50.0), ("wrote", 100.0)]
    assert [t.kind for t in snap.touches["bob"]] == ["wrote", "replied", "wrote"]
    # Interest only: reacting is not participation, so CF and the activity prior do not see it.
    assert "cy" not in snap.prior._members
    assert build_snapshot(messages, 500.0).touches.get("cy") is None
