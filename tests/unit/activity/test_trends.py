"""Burst detector on synthetic series with known change points."""

from __future__ import annotations

import random

import pytest

from brain.activity.trends import BurstDetector, BurstParams, Post, detect_bursts, poisson_sf, tokenize

HOUR = 3600.0
NOW = 1_800_000_000.0


def background(days: int, *, seed: int = 1) -> list[Post]:
    """A steady channel: a few messages per hour on varied topics, several authors."""
    rng = random.Random(seed)
    topics = [
        "docker compose volumes",
        "pytest fixtures scope",
        "asyncio event loop",
        "django migrations",
        "numpy arrays",
    ]
    posts = []
    t = NOW - days * 86400
    i = 0
    while t < NOW:
        t += rng.expovariate(3 / HOUR)
        posts.append(Post(t, "help", f"user{rng.randrange(30)}", f"m{i}", f"question about {rng.choice(topics)} today"))
        i += 1
    return [p for p in posts if p.ts < NOW]


def test_tokenize_keeps_technical_bigrams() -> None:
    terms = tokenize("Poetry lock fails on Python 3.11 with C++ ext, see https://example.com/x")
    assert "poetry lock" in terms and "c++" in terms
    assert "see" not in terms and not any("example" in t for t in terms)


def test_tokenize_sees_words_of_other_scripts() -> None:
    assert "für" in tokenize("Fehler für Überprüfung")  # was cut to "f" at the first accented letter
    assert "база данных" in tokenize("база данных недоступна")
    terms = tokenize("数据库连接失败")
    assert "数据库" in terms and "连接" in terms and "数据库连接失败" not in terms


@pytest.mark.parametrize(
    ("burst_text", "term"),
    [
        ("снова ошибка SolverProblemError при poetry lock", "ошибка"),
        ("数据库连接失败怎么办", "数据库"),
    ],
)
def test_a_burst_in_another_script_is_found(burst_text: str, term: str) -> None:
    # Topic bursts were ASCII only: a Russian or Chinese community's incident was never reported.
    posts = background(14)
    burst = [Post(NOW - 2 * HOUR + i * 600, "help", f"victim{i}", f"b{i}", burst_text) for i in range(7)]
    found = detect_bursts(sorted(posts + burst, key=lambda p: p.ts), now=NOW)
    assert any(term in b.term for b in found), [b.term for b in found]


def test_flat_series_is_silent() -> None:
    assert detect_bursts(background(14), now=NOW) == []


def test_injected_burst_is_found_once_with_its_messages() -> None:
    posts = background(14)
    burst = [
        Post(NOW - 2 * HOUR + i * 600, "help", f"victim{i}", f"b{i}", "poetry lock fails with SolverProblemError again")
        for i in range(7)
    ]
    found = detect_bursts(sorted(posts + burst, key=lambda p: p.ts), now=NOW)
    terms = [b.term for b in found]
    assert "poetry lock" in terms
    assert "poetry" not in terms and "lock" not in terms  # covered by the bigram
    top = next(b for b in found if b.term == "poetry lock")
    assert set(top.message_ids) == {f"b{i}" for i in range(7)}
    assert top.ratio >= 4


def test_one_person_repeating_is_not_a_burst() -> None:
    posts = background(14)
    spam = [Post(NOW - HOUR + i, "help", "spammer", f"s{i}", "buy cheapcoins cheapcoins") for i in range(20)]
    assert detect_bursts(sorted(posts + spam, key=lambda p: p.ts), now=NOW) == []


def test_a_term_that_is_always_busy_does_not_burst_at_its_usual_rate() -> None:
    posts = background(14, seed=3)
    assert all(b.term not in {"docker", "pytest"} for b in detect_bursts(posts, now=NOW))


def test_new_channel_without_history_is_silent() -> None:
    burst = [Post(NOW - HOUR + i, "fresh", f"u{i}", f"n{i}", "kubernetes ingress broken") for i in range(10)]
    assert detect_bursts(burst, now=NOW, params=BurstParams()) == []


def test_poisson_tail() -> None:
    assert poisson_sf(0, 2.0) == 1.0
    assert abs(poisson_sf(1, 2.0) - (1 - 2.718281828**-2)) < 1e-6
    assert poisson_sf(10, 0.3) < 1e-9


def test_member_names_are_not_topics() -> None:
    posts = background(14)
    addressed = [
        Post(NOW - HOUR + i, "help", f"helper{i}", f"n{i}", f"orbo: try dpkg reconfigure {i}") for i in range(8)
    ]
    posts.append(Post(NOW - 2 * HOUR, "help", "Orbo", "o1", "my install is failing"))
    found = detect_bursts(sorted(posts + addressed, key=lambda p: p.ts), now=NOW)
    assert all("orbo" not in b.term.split() for b in found)


def test_streaming_replay_finds_every_change_point_and_nothing_else() -> None:
    """Three weeks of steady traffic with three injected change points (different terms, days and
    sizes): replayed through the streaming detector, each is found in the window it starts in and
    nothing else is reported."""
    posts = background(21, seed=7)
    change_points = {
        "poetry lock": NOW - 9 * 86400 + 3 * HOUR + 600,
        "ssl certificate": NOW - 5 * 86400 + 12 * HOUR + 600,
        "segfault": NOW - 2 * 86400 + 18 * HOUR + 600,
    }  # each burst lasts at most 2.25 h, inside one 3-hour window aligned on NOW
    injected = []
    for n, (term, start) in enumerate(change_points.items()):
        for i in range(6 + 2 * n):
            text = f"{term} error again after upgrading"
            injected.append(Post(start + i * 900, "help", f"burst{n}-{i}", f"b{n}-{i}", text))
    params = BurstParams()
    detector = BurstDetector(params, origin=NOW)
    found = []
    for post in sorted(posts + injected, key=lambda p: p.ts):
        found.extend(detector.add(post))
    found.extend(detector.flush())
    window = params.window_hours * HOUR
    # One report per change point, led by its subject; co-occurring terms ("lock error",
    # "error upgrading") are folded in as related.
    assert len(found) == len(change_points)
    for term, start in change_points.items():
        b = next(b for b in found if b.term.startswith(term))
        assert b.window_start <= start < b.window_end <= b.window_start + window + 1
        assert all(m.startswith("b") for m in b.message_ids)


def test_flat_series_stay_silent_over_whole_replays() -> None:
    params = BurstParams()
    for seed in range(4):
        detector = BurstDetector(params, origin=NOW)
        found = [b for p in background(21, seed=seed) for b in detector.add(p)]
        assert found + detector.flush() == []


def test_a_near_silent_channel_has_no_baseline_to_burst_against() -> None:
    """One message eight days ago is a week of "history" by the clock, but no baseline: five lunch
    messages from three people are not a topic burst."""
    base = [Post(NOW - 8 * 86400, "random", "old", "m0", "hello world")]
    lunch = [
        Post(NOW - 600 + i, "random", f"u{i % 3}", f"f{i}", f"lunch at the pizza place today {i}") for i in range(5)
    ]
    assert detect_bursts(base + lunch, now=NOW) == []


def test_a_term_never_used_before_is_reported_as_new_not_against_the_floor() -> None:
    from brain.activity.scan import burst_text

    posts = background(14)
    burst = [
        Post(NOW - 2 * HOUR + i * 600, "help", f"victim{i}", f"b{i}", "poetry lock fails with SolverProblemError again")
        for i in range(7)
    ]
    [found] = [b for b in detect_bursts(sorted(posts + burst, key=lambda p: p.ts), now=NOW) if b.term == "poetry lock"]
    assert found.new
    text = burst_text(found, "help")
    assert text.startswith("`poetry lock` is new in #help: 7 messages in the last 3 hours")
    assert "usually about 0.3" not in text
    # A term the channel uses daily, far above its rate, is "up", against the rate it observed.
    usual = [
        Post(NOW - 86400 * d - 3600 * (d % 12), "help", f"u{d}", f"d{d}", "kubernetes again") for d in range(1, 14)
    ]
    spike = [Post(NOW - 2 * HOUR + i * 300, "help", f"s{i}", f"s{i}", "kubernetes again") for i in range(18)]
    ups = [b for b in detect_bursts(sorted(posts + usual + spike, key=lambda p: p.ts), now=NOW) if not b.new]
    assert ups and all("usually about" in burst_text(b, "help") for b in ups)
