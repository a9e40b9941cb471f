"""A sentence is supported by one source that is both close to it and holds every identifier it
names, and cites that source: before, closeness was taken from one source and the identifiers from
any shown one, so a name made up from another source passed, cited to a source that lacks it."""

from __future__ import annotations

from bot.ml import ScoredUnit, Unit
from bot.testing import HashEmbedder, ScriptedLLM
from brain.qa import grounding
from brain.qa.access import AccessScope
from brain.qa.answerer import Answerer

# The demo docs the bundled model drew on (privacy.md, getting-started.md).
PRIVACY = (
    "## What Guildhall reads\n"
    "Only what the platform delivers to the bot: messages in channels it was invited to (Slack) or can\n"
    "view (Discord), and DMs sent to the bot itself. It never sees DMs between members."
)
CONFIG = (
    "Environment variables with the GUILDHALL_ prefix, e.g. GUILDHALL_TIMEZONE=Europe/Berlin; lists are JSON: "
    'GUILDHALL_BRAINS=\'["qa","activity"]\' chooses the features to run.'
)
# Seen in the console review: the name comes from source 2, the words from source 1.
SPLICED = "Only what the platform delivers to the bot: messages in channels it was invited to (GUILDHALL_BRAINS) [1]."


def units() -> list[ScoredUnit]:
    return [
        ScoredUnit(Unit(uid, "docs", "docs", "d", text, message_ids=(uid,), url=f"https://x/{uid}", kind="doc"), 1.0)
        for uid, text in (("privacy", PRIVACY), ("config", CONFIG))
    ]


def test_a_name_from_one_source_in_words_from_another_is_unsupported() -> None:
    [check] = grounding.check(SPLICED, units(), HashEmbedder()).sentences
    assert check.judged and not check.supported and check.supporting == ()
    # Each part on its own source is still fine.
    ok = grounding.check(
        "Only what the platform delivers to the bot: messages in channels it was invited to [1]. "
        "GUILDHALL_BRAINS chooses the features to run, and lists are JSON [1].",
        units(),
        HashEmbedder(),
    ).sentences
    assert [(c.supported, c.supporting, c.best_source) for c in ok] == [(True, (1,), 1), (True, (2,), 2)]


async def test_the_spliced_sentence_is_dropped_from_the_answer_and_the_rest_cites_its_own_source() -> None:
    draft = (
        f"Only what the platform delivers to the bot: messages in channels it was invited to (Slack) [1].\n{SPLICED}"
    )
    found = units()

    class Ranked:
        async def search(self, *_: object, **__: object) -> list[ScoredUnit]:
            return found

    async def title(_: ScoredUnit) -> str:
        return "docs"

    answerer = Answerer(Ranked(), ScriptedLLM(draft), HashEmbedder(), channel_name=title)  # type: ignore[arg-type]
    result = await answerer.answer("what does the bot read?", AccessScope("slack", "T1"))
    assert (
        result.text == "Only what the platform delivers to the bot: messages in channels it was invited to (Slack) [1]."
    )
    assert "GUILDHALL_BRAINS" not in result.text and result.cited_unit_ids == ("privacy",)
