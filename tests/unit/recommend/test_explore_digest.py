"""Exploration share, MMR, determinism, digest rendering (Discord embed / Slack blocks) and time zones."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from adapters.discord.render import buttons_view, citations_embed
from adapters.slack.render import render_posts
from brain.recommend.digest import Recommendation, digest_due, render, shared_topic, title_of
from brain.recommend.explore import Scored, exploration_slots, mmr, rerank


def _cands(n: int = 12) -> tuple[list[Scored], dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    cands = [Scored(f"t{i}", "main" if i < 8 else f"side{i}", 1.0 - i * 0.05) for i in range(n)]
    vecs = {
        c.thread_id: (v / np.linalg.norm(v)).astype(np.float32)
        for c, v in zip(cands, rng.normal(size=(n, 16)), strict=True)
    }
    return cands, vecs


@pytest.mark.parametrize(("k", "share", "slots"), [(10, 0.2, 2), (10, 0.0, 0), (5, 0.2, 1), (1, 0.5, 0), (4, 1.0, 3)])
def test_exploration_slots(k: int, share: float, slots: int) -> None:
    assert exploration_slots(k, share) == slots


def test_exploration_share_reserves_slots_for_rarely_seen_channels() -> None:
    cands, vecs = _cands()
    picks = rerank(cands, vecs, 5, share=0.4, exposure={"main": 50}, clicks={}, seed=1)
    explored = [p for p in picks if p.explore]
    assert len(picks) == 5 and len(explored) == 2
    assert all(p.channel_id != "main" for p in explored)
    assert len({p.thread_id for p in picks}) == 5


def test_no_exploration_when_share_is_zero() -> None:
    cands, vecs = _cands()
    picks = rerank(cands, vecs, 5, share=0.0, exposure={"main": 50}, clicks={}, seed=1)
    assert not any(p.explore for p in picks)


def test_rerank_is_deterministic_for_a_fixed_seed() -> None:
    cands, vecs = _cands()
    runs = [
        rerank(cands, vecs, 6, share=0.5, exposure={"main": 9}, clicks={"side9": (3, 1)}, seed=42) for _ in range(3)
    ]
    assert runs[0] == runs[1] == runs[2]


def test_mmr_skips_near_duplicates() -> None:
    a = np.array([1.0, 0.0], np.float32)
    b = np.array([0.0, 1.0], np.float32)
    cands = [Scored("x1", "c", 1.0), Scored("x2", "c", 0.99), Scored("y", "c", 0.9)]
    chosen = mmr(cands, {"x1": a, "x2": a, "y": b}, 2, lam=0.5)
    assert [c.thread_id for c in chosen] == ["x1", "y"]


def _recs() -> list[Recommendation]:
    return [
        Recommendation(
            "1700.1",
            "C1",
            "python",
            "How do I cancel an asyncio task?",
            "https://x/1",
            0.9,
            "because you discussed asyncio in #python",
        ),
        Recommendation(
            "1700.2",
            "C2",
            "random",
            title_of("Ünïcødé 🐍 <@U1> *bold* @everyone"),
            "https://x/2",
            0.5,
            "something different",
            explore=True,
        ),
    ]


def test_digest_text_has_why_lines_and_links() -> None:
    text, citations, buttons = render(_recs(), header="recommend_digest_header")
    # The text is the header; the picks are the citations, which every platform lists under it.
    assert "2 picks" in text and "asyncio" not in text
    assert [c.url for c in citations] == ["https://x/1", "https://x/2"]
    assert citations[0].note == "because you discussed asyncio in #python" and citations[0].kind == "link"
    assert len({b.action_id for b in buttons}) == len(buttons) == 2
    assert buttons[0].value == "C1|1700.1"


def test_empty_digest_says_so() -> None:
    text, citations, buttons = render([])
    assert "Nothing new" in text and citations == () and buttons == ()


def test_digest_renders_as_discord_embed() -> None:
    _, citations, buttons = render(_recs())
    embed = citations_embed(citations)
    assert embed is not None
    dumped = str(embed.to_dict())
    assert "asyncio" in dumped and "https://x/1" in dumped
    assert embed.title is None  # picks are introduced by the message, not headed "Sources"
    view = buttons_view(buttons)
    assert view is not None and len(view.children) == 2


def test_digest_renders_as_slack_blocks() -> None:
    text, citations, buttons = render(_recs())
    posts = render_posts(text, citations, buttons)
    blocks = [b for p in posts for b in p.blocks]
    actions = [b for b in blocks if b["type"] == "actions"]
    assert actions and {e["action_id"] for e in actions[0]["elements"]} == {"recommend.open.1", "recommend.open.2"}
    assert "<@U1>" not in str(blocks) and "@everyone" not in str(blocks)  # quoted mentions never ping
    shown = "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    assert shown.count("How do I cancel an asyncio task?") == 1 and "<https://x/1|" in shown
    assert "because you discussed asyncio" in shown and "Sources" not in shown


def test_title_is_one_clipped_line() -> None:
    title = title_of("line one\nline two " + "x" * 500)
    assert "\n" not in title and len(title) <= 80


def test_shared_topic_picks_the_members_word() -> None:
    assert shared_topic(["asyncio is great", "more asyncio", "django"], "asyncio task cancel django?") == "asyncio"
    assert shared_topic([], "anything") is None
    # Mentions, user ids, links and filler words explain nothing.
    members = ["@U0000087 I think https://example.com/page first", "thanks @U0000087, I think so"]
    assert shared_topic(members, "@U0000087 I think first https://example.com/page") is None
    assert shared_topic([*members, "macros are neat"], "<@U1> macros first?") == "macros"
    # Help-channel vocabulary is everywhere: "questions" explains nothing (seen in the console demo).
    assert shared_topic(["my questions", "more questions"], "I'll bring my Grid questions") is None


def test_digest_due_in_member_time_zone() -> None:
    tokyo, berlin = ZoneInfo("Asia/Tokyo"), ZoneInfo("Europe/Berlin")
    now = datetime(2026, 1, 5, 0, 30, tzinfo=UTC)  # 09:30 in Tokyo, 01:30 in Berlin
    assert digest_due(now, tokyo, time(9, 0), None) == "2026-01-05"
    assert digest_due(now, berlin, time(9, 0), None) is None
    assert digest_due(now, tokyo, time(9, 0), "2026-01-05") is None  # already sent today
