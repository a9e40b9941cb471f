"""Pure rendering: message splitting, mention neutralizing, citation embeds, forum tags, buttons."""

from __future__ import annotations

import random
import re
from typing import Any

import discord
import pytest

from adapters.discord.render import (
    MESSAGE_LIMIT,
    buttons_view,
    citations_embed,
    neutralize_mentions,
    parse_custom_id,
    solved_tag,
    split_message,
)
from bot.events import Button, Citation


def fences(text: str) -> list[str]:
    return [line.strip() for line in text.split("\n") if line.strip().startswith("```")]


def test_short_text_is_one_chunk_and_empty_text_none() -> None:
    assert split_message("hello") == ["hello"]
    assert split_message("") == []


def test_six_thousand_characters_make_three_full_messages() -> None:
    chunks = split_message("a" * 6000)
    assert [len(c) for c in chunks] == [2000, 2000, 2000]


def test_cuts_prefer_paragraphs_then_lines_then_words() -> None:
    paragraphs = "\n\n".join(("word " * 60).strip() for _ in range(20))  # ~6,000 characters
    chunks = split_message(paragraphs)
    assert all(len(c) <= MESSAGE_LIMIT for c in chunks)
    assert all(c.endswith("word") and c.startswith("word") for c in chunks)  # no word cut in half
    assert " ".join(" ".join(chunks).split()) == " ".join(paragraphs.split())


def test_a_cut_inside_a_code_block_closes_and_reopens_it_with_its_language() -> None:
    code = "```python\n" + "\n".join(f"x_{i} = {i}" for i in range(400)) + "\n```"
    chunks = split_message("Intro.\n\n" + code + "\n\nDone.")
    assert len(chunks) >= 3
    for chunk in chunks:
        assert len(chunk) <= MESSAGE_LIMIT
        assert len(fences(chunk)) % 2 == 0, chunk[-50:]
    assert all(c.lstrip().startswith("```python") for c in chunks[1:-1])
    body = [line for c in chunks for line in c.split("\n") if line.startswith("x_")]
    assert body == [f"x_{i} = {i}" for i in range(400)]  # every line once, in order


@pytest.mark.parametrize("seed", range(25))
def test_random_markdown_always_splits_into_valid_messages(seed: int) -> None:
    rng = random.Random(seed)
    parts: list[str] = []
    while sum(map(len, parts)) < 7000:
        if rng.random() < 0.4:
            lang = rng.choice(["", "python", "sh"])
            lines = [("y" * rng.randint(1, 90)) for _ in range(rng.randint(1, 60))]
            parts.append(f"```{lang}\n" + "\n".join(lines) + "\n```")
        else:
            parts.append(" ".join("w" * rng.randint(1, 12) for _ in range(rng.randint(5, 120))))
    text = "\n\n".join(parts)
    chunks = split_message(text)
    assert all(0 < len(c) <= MESSAGE_LIMIT for c in chunks)
    assert all(len(fences(c)) % 2 == 0 for c in chunks)
    # No content lost: every non-fence line of the input appears, in order.
    original = [line for line in text.split("\n") if line.strip() and not line.startswith("```")]
    produced = [line for c in chunks for line in c.split("\n") if line.strip() and not line.startswith("```")]
    assert "".join("".join(produced).split()) == "".join("".join(original).split())


@pytest.mark.parametrize("one_liner", [1806, 1956, 1996, 2300])
def test_a_long_one_line_code_block_is_not_copied_into_every_chunk(one_liner: int) -> None:
    # ```cmd``` on one line opens and closes: nothing to re-open. Re-opening the whole line made
    # 23-1,430 messages of one answer (2,300: chunks over the limit, refused by Discord).
    text = "```" + "c" * (one_liner - 6) + "```\n\n" + ("word " * 4000)
    chunks = split_message(text)
    assert all(0 < len(c) <= MESSAGE_LIMIT for c in chunks)
    assert len(chunks) <= -(-len(text) // (MESSAGE_LIMIT - 20)) + 1
    assert sum(c.count("c" * 100) for c in chunks) >= (one_liner - 6) // 100 - 1  # the code is sent once
    assert "".join(c for c in chunks).count("word") == 4000


def test_a_reopened_block_carries_only_its_language_tag() -> None:
    first = "```python x = 1  # code on the fence line\n"
    text = first + "\n".join(f"y_{i} = {i}" for i in range(400)) + "\n```"
    chunks = split_message(text)
    assert all(len(c) <= MESSAGE_LIMIT and len(fences(c)) % 2 == 0 for c in chunks)
    assert sum(c.count("code on the fence line") for c in chunks) == 1
    assert all(c.startswith("```\n") for c in chunks[1:])  # "python x" is no tag: plain fence


def test_a_hard_cut_just_after_a_fence_repeats_nothing() -> None:
    # One long line (a minified blob, a log line): no space to cut at, and the cut falls a few
    # characters after ```. The fragment there is code, not a language tag to re-open with.
    text = "a" * 1990 + "```" + "y" * 20 + "z" * 100
    chunks = split_message(text)
    assert all(len(c) <= MESSAGE_LIMIT for c in chunks)
    assert "".join(chunks).count("y") == 20
    assert chunks[1].startswith("```" + "y" * 20)  # the opening line stays with its fence


def test_a_word_is_a_language_tag_only_when_its_line_ends_there() -> None:
    text = "```" + "q" * 3000  # no room to move the cut before the fence
    chunks = split_message(text)
    assert all(len(c) <= MESSAGE_LIMIT for c in chunks)
    assert all(c.startswith("```\n") for c in chunks[1:])
    assert "".join(chunks).count("q") == 3000


# Tags the fuzz inputs re-open: their letters are left out of the comparison (a re-opened block
# repeats its tag), as are whitespace and backticks (the fences added to close and re-open blocks).
_FUZZ_TAG_LETTERS = set("pysh")
_FUZZ_ATOMS = [
    " word", " ", "\n", "\n\n", "```\n", "```py\n", "```sh\n", "```",
    "[link](https://x.org/" + "a" * 30 + ")", "<@123>", "@everyone", "&amp;", "<", ">",
    "[a](b c)", "é", "\U0001f44d\U0001f3fd", "\u200d", "x" * 300, "Z" * 2100, "W" * 2500,
]  # fmt: skip


def _kept(text: str) -> str:
    return "".join(ch for ch in text if not ch.isspace() and ch != "`" and ch not in _FUZZ_TAG_LETTERS)


@pytest.mark.parametrize("seed", range(8))
def test_random_inputs_lose_and_repeat_nothing(seed: int) -> None:
    """Fuzz: no part over the limit or empty, and the parts joined hold the input's characters
    once each, in order (but for the fences that close and re-open blocks at the cuts). A bare
    ``` is always followed by a newline or a run too long to be a tag, so only py and sh re-open."""
    rng = random.Random(seed)
    for _ in range(60):
        atoms = [rng.choice(_FUZZ_ATOMS) for _ in range(rng.randint(1, 60))]
        # A bare fence opens a long line (a log line, a minified blob) that a hard cut may split.
        line = "x" * rng.randint(0, 2100) + "```" + "Q" * rng.randint(30, 2500)
        text = "".join(line if a == "```" else a for a in atoms)
        chunks = split_message(neutralize_mentions(text))
        assert all(0 < len(c) <= MESSAGE_LIMIT for c in chunks)
        assert _kept("".join(chunks)) == _kept(neutralize_mentions(text))


def test_mass_and_role_mentions_are_neutralized_but_users_kept() -> None:
    out = neutralize_mentions("@everyone @here <@&123> <@456>")
    assert "@everyone" not in out and "@here" not in out and "<@&123>" not in out
    assert "<@456>" in out  # users are not pinged anyway (allowed_mentions none) but stay readable


def test_citations_embed_lists_numbered_links() -> None:
    embed = citations_embed(
        [Citation(1, "Install [guide]", "https://x.org/a", note="v2"), Citation(2, "", "", snippet="s")]
    )
    assert embed is not None and embed.title == "Sources"
    assert embed.description == "**[1]** [Install [guide)](https://x.org/a) — v2\n**[2]** source 2"
    assert citations_embed([]) is None


def test_a_docs_file_citation_shows_its_title_not_the_hosts_path() -> None:
    embed = citations_embed([Citation(1, "faq.md › Install", "/srv/guildhall/docs/faq.md")])
    assert embed is not None and embed.description == "**[1]** faq.md › Install"


def test_citations_embed_stays_within_discord_limits() -> None:
    many = [Citation(i, "t" * 300, f"https://x.org/{i}") for i in range(40)]
    embed = citations_embed(many)
    assert embed is not None and embed.description is not None and len(embed.description) <= 4096
    # Whole lines only (a link cut in half is broken markdown), and the rest counted.
    lines = embed.description.split("\n")
    assert all(line.endswith(")") for line in lines[:-1]) and re.fullmatch(r"…and \d+ more", lines[-1])
    assert len(lines) - 1 + int(lines[-1].split()[1]) == 40
    one = citations_embed([Citation(1, "t" * 5000, "https://x.org/1")])
    assert one is not None and one.description is not None and len(one.description) <= 4096


def test_solved_tag_matches_names_case_insensitively() -> None:
    def tag(tag_id: str, name: str) -> discord.ForumTag:
        data: dict[str, Any] = {"id": tag_id, "name": name, "moderated": False, "emoji_id": None, "emoji_name": None}
        return discord.ForumTag.from_data(state=None, data=data)  # type: ignore[arg-type]  # no state needed

    tags = [tag("1", "Bug"), tag("2", " SOLVED ")]
    found = solved_tag(tags, ("solved", "resolved"))
    assert found is not None and found.id == 2
    assert solved_tag(tags[:1], ("solved",)) is None


async def test_buttons_round_trip_through_custom_ids() -> None:
    view = buttons_view([Button("feedback", "Helpful", "yes:42", style="primary")])
    assert view is not None
    [item] = view.children
    assert isinstance(item, discord.ui.Button) and item.custom_id is not None
    assert parse_custom_id(item.custom_id) == ("feedback", "yes:42")
    assert buttons_view([]) is None


async def test_buttons_discord_would_refuse_never_fail_the_whole_message() -> None:
    """Discord rejects a message (400) whose buttons repeat a custom_id or have neither label nor
    emoji: the answer they belong to must still go out."""
    long = "x" * 120
    buttons = [Button("a", "One", long + "1"), Button("a", "Two", long + "2"), Button("b", "", "z")]
    view = buttons_view(buttons)
    assert view is not None
    components = [c for row in view.to_components() for c in row["components"]]
    custom_ids = [c["custom_id"] for c in components]
    assert len(set(custom_ids)) == len(custom_ids) and all(len(i) <= 100 for i in custom_ids)
    assert all(c.get("label") for c in components)
