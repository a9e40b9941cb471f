"""A draft that copies hard-wrapped doc text is read as the doc's sentences, not its lines: before,
each wrapped line was a sentence of its own, so a citation mark landed mid-sentence ("... and
create a [2]" / "New Application.") and half a sentence was judged on its own."""

from __future__ import annotations

from bot.ml import ScoredUnit, Unit
from bot.testing import HashEmbedder, ScriptedLLM
from brain.qa import grounding
from brain.qa.access import AccessScope
from brain.qa.answerer import Answerer

# bot/demo/docs/discord-setup.md, as indexed (wrapped at ~100 characters).
DOC = (
    "## 1. Create the application and bot\n\n"
    "1. Open the Discord Developer Portal (https://discord.com/developers/applications) and create a\n"
    "   **New Application**.\n"
    "2. Under **Bot**, reset/copy the token and export it as `DISCORD_TOKEN` (environment only; never in\n"
    "   `guildhall.toml`).\n"
    "3. Under **Bot -> Privileged Gateway Intents**, enable:\n"
    "   - **MESSAGE CONTENT INTENT** (required): without it Discord sends the bot empty message text,\n"
    "     so Guildhall can neither answer mentions nor index history."
)
# What the bundled model wrote in the console review (the doc's line breaks, its indentation lost).
DRAFT = (
    "1. Open the Discord Developer Portal (https://discord.com/developers/applications) and create a\n"
    "New Application.\n"
    "2. Under Bot, reset/copy the token and export it as `DISCORD_TOKEN` (environment only; never in\n"
    "`guildhall.toml`).\n"
    "3. Under Bot -> Privileged Gateway Intents, enable:\n"
    "- MESSAGE CONTENT INTENT (required): without it Discord sends the bot empty message text,\n"
    "so Guildhall can neither answer mentions nor index history."
)
JOINED = [
    "1. Open the Discord Developer Portal (https://discord.com/developers/applications) and create a New Application.",
    "2. Under Bot, reset/copy the token and export it as `DISCORD_TOKEN` (environment only; never in "
    "`guildhall.toml`).",
    "3. Under Bot -> Privileged Gateway Intents, enable:",
    "- MESSAGE CONTENT INTENT (required): without it Discord sends the bot empty message text, so Guildhall can "
    "neither answer mentions nor index history.",
]


def sentences(draft: str, source: str, kind: str = "doc") -> list[str]:
    unit = Unit("d", "docs", "docs", "d", source, message_ids=("d",), url="https://x/d", kind=kind)
    return [c.text for c in grounding.check(draft, [ScoredUnit(unit, 1.0)], HashEmbedder()).sentences]


def test_line_breaks_copied_from_a_docs_wraps_are_joined_before_the_draft_is_cut_into_sentences() -> None:
    assert sentences(DRAFT, DOC) == JOINED
    assert grounding.unwrap(DRAFT, [DOC]) == "\n".join(JOINED)


def test_other_line_breaks_are_kept() -> None:
    # A chat message is not wrapped: its line breaks are the member's.
    assert sentences(DRAFT, DOC, kind="thread") == DRAFT.split("\n")
    assert grounding.unwrap(DRAFT) == DRAFT
    # Where the doc has no break between those words, or a blank line, or the line ends a sentence,
    # starts a list item, a heading or code.
    doc = "## What Guildhall reads\n\nOnly what the platform delivers to the bot. It never sees\nDMs between members.\n- one\n- two"
    for text in [
        "It never sees DMs\nbetween members.",
        "What Guildhall reads\nOnly what the platform delivers to the bot.",
        "## What Guildhall reads\nOnly what the platform delivers to the bot.",
        "Only what the platform delivers to the bot.\nIt never sees DMs between members.",
        "It never sees\n- DMs between members.",
        "It never sees\n```\nDMs between members.\n```",
    ]:
        assert grounding.unwrap(text, [doc]) == text, text
    assert grounding.unwrap("It never sees\n   DMs between members.", [doc]) == "It never sees DMs between members."


async def test_the_mark_goes_at_the_end_of_the_joined_sentence() -> None:
    unit = Unit("d", "docs", "docs", "d", DOC, message_ids=("d",), url="https://x/discord-setup", kind="doc")

    class Ranked:
        async def search(self, *_: object, **__: object) -> list[ScoredUnit]:
            return [ScoredUnit(unit, 1.0)]

    async def title(_: ScoredUnit) -> str:
        return "docs"

    answerer = Answerer(Ranked(), ScriptedLLM(DRAFT), HashEmbedder(), channel_name=title)  # type: ignore[arg-type]
    result = await answerer.answer("how do I connect the bot to Discord?", AccessScope("slack", "T1"))
    lines = result.text.split("\n")
    assert lines[0] == (
        "1. Open the Discord Developer Portal (https://discord.com/developers/applications) and create a New "
        "Application [1]."
    )
    assert lines[1].endswith("(environment only; never in `guildhall.toml`) [1].")
    assert all(not line.endswith("[1]") for line in lines), result.text  # no mark before a wrapped line's rest


def test_a_wrapped_line_that_opens_with_bold_text_goes_on_with_the_sentence() -> None:
    # The console demo's answer: the doc wraps before "**New Application**." (bold, not a bullet).
    doc = "1. Open the Portal and create a\n   **New Application**.\n2. Under **Bot**, copy the token."
    draft = "1. Open the Portal and create a\n   **New Application**."
    assert grounding.unwrap(draft, [doc]) == "1. Open the Portal and create a **New Application**."
    # A real bullet still starts a line of its own.
    listed = "Turn on the intents\n* MESSAGE CONTENT INTENT"
    assert grounding.unwrap(listed, [listed]) == listed
