"""A full-size digest on Discord: every pick shown, within one message's embed limits."""

from __future__ import annotations

from adapters.discord.render import EMBED_DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT, EMBEDS_PER_MESSAGE, citations_embeds
from bot.events import Citation
from brain.recommend.digest import Recommendation, render, title_of


def _digest(n: int) -> tuple[Citation, ...]:
    base = 1300000000000000000
    recs = [
        Recommendation(
            str(base + i),
            "1200000000000000000",
            "help-and-questions",
            title_of("How do I configure the reverse proxy so that websockets survive a reload of nginx? " * 2),
            f"https://discord.com/channels/1100000000000000000/{base + i}/{base + i}",
            1.0,
            "because you discussed websockets in #help-and-questions",
        )
        for i in range(n)
    ]
    return render(recs, header="recommend_digest_header")[1]


def test_twenty_five_picks_all_fit_in_one_message() -> None:
    citations = _digest(25)  # digest_size's upper bound
    embeds = citations_embeds(citations)
    assert 1 <= len(embeds) <= EMBEDS_PER_MESSAGE
    assert sum(len(e) for e in embeds) <= EMBED_TOTAL_LIMIT
    assert all(e.description and len(e.description) <= EMBED_DESCRIPTION_LIMIT for e in embeds)
    lines = [line for e in embeds for line in (e.description or "").split("\n")]
    assert [line.split("]")[0] for line in lines] == [f"**[{n}" for n in range(1, 26)]  # none dropped
    assert all(c.url in line for c, line in zip(citations, lines, strict=True))  # links never cut
    assert "more" not in lines[-1]


def test_short_lists_keep_their_full_titles_in_one_embed() -> None:
    citations = _digest(3)
    [embed] = citations_embeds(citations)
    assert all(c.title.split(": ", 1)[1] in (embed.description or "") for c in citations)
    assert citations_embeds([]) == []


def test_one_enormous_line_still_makes_a_valid_embed() -> None:
    embeds = citations_embeds([Citation(1, "t" * 5000, "https://x.org/1")])
    assert len(embeds) == 1 and embeds[0].description and 0 < len(embeds[0].description) <= EMBED_DESCRIPTION_LIMIT
