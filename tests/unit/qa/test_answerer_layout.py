"""The answer keeps the draft's layout: line breaks, list markers and fenced code blocks, which are
judged, kept or dropped whole and never get a citation mark inside."""

from __future__ import annotations

from bot.ml import ScoredUnit, Unit
from bot.testing import HashEmbedder, ScriptedLLM
from brain.qa import grounding
from brain.qa.access import AccessScope
from brain.qa.answerer import Answer, Answerer

NPM = "To fix ERR_CONNECTION_REFUSED start the dev server with npm run dev"
PORT = "The dev server port is configured by setting PORT=3000 in the env file"


def su(uid: str, text: str) -> ScoredUnit:
    unit = Unit(uid, "slack", "T1", "C1", text, message_ids=(uid,), url=f"https://x/{uid}", ts_start=1_700_000_000)
    return ScoredUnit(unit, 1.0)


class Ranked:
    def __init__(self, units: list[ScoredUnit]) -> None:
        self.units = units

    async def search(self, *_: object, **__: object) -> list[ScoredUnit]:
        return self.units


async def _channel(_: ScoredUnit) -> str:
    return "#help"


async def answer(draft: str, *texts: str, finish_reason: str = "stop") -> Answer:
    units = [su(chr(ord("a") + i), t) for i, t in enumerate(texts)]
    llm = ScriptedLLM(draft, finish_reason=finish_reason)
    answerer = Answerer(Ranked(units), llm, HashEmbedder(), channel_name=_channel)  # type: ignore[arg-type]
    return await answerer.answer("how do I fix the dev server?", AccessScope("slack", "T1"))


async def test_a_numbered_list_and_a_code_block_reach_the_member_as_written() -> None:
    draft = (
        "To fix ERR_CONNECTION_REFUSED:\n"
        "1. Start the dev server with npm run dev [1].\n"
        "2. Check that the dev server port is PORT=3000 in the env file [2].\n"
        "```bash\n"
        "npm run dev\n"
        "```"
    )
    result = await answer(draft, NPM, PORT)
    assert result.text == (
        "To fix ERR_CONNECTION_REFUSED [1]:\n"
        "1. Start the dev server with npm run dev [1].\n"
        "2. Check that the dev server port is PORT=3000 in the env file [2].\n"
        "```bash\n"
        "npm run dev\n"
        "``` [1]"
    )


async def test_code_the_sources_do_not_contain_is_dropped_whole_and_the_list_closes_its_gap() -> None:
    draft = (
        "Steps:\n"
        "1. Start the dev server with npm run dev [1].\n"
        "2. Wipe the cache with the purge command [1].\n"
        "```bash\n"
        "npm run dev\n"
        "npm cache purge --everything\n"
        "```\n"
        "3. Set PORT=3000 in the env file for the dev server port [2]."
    )
    result = await answer(draft, NPM, PORT)
    assert result.text == (
        "Steps:\n1. Start the dev server with npm run dev [1].\n2. Set PORT=3000 in the env file for the dev server port [2]."
    )
    checks = grounding.check(draft, [su("a", NPM), su("b", PORT)], HashEmbedder()).sentences
    [block] = [c for c in checks if c.code]
    assert block.judged and not block.supported  # one invented line sinks the block: it counts against support


def test_a_code_block_is_one_piece_and_its_lines_are_what_is_judged() -> None:
    draft = "Run it:\n```python\nx = items[1]. Then y = 2\nprint(x)\n```\n- Done [1]."
    assert grounding.split_sentences(draft) == [
        "Run it:",
        "```python\nx = items[1]. Then y = 2\nprint(x)\n```",
        "- Done [1].",
    ]
    assert grounding.cited_numbers(draft.split("- Done")[0]) == ()  # [1] in code is code
    block = "```console\n$ pip install -U guildhall\n# upgrade first\n}\n>>> import guildhall\n``` [2]"
    assert grounding.code_lines(block) == ["pip install -U guildhall", "import guildhall"]
    units = [su("a", "Upgrade with pip install -U guildhall, then check that import guildhall works")]
    [check] = grounding.check(block, units, HashEmbedder()).sentences
    assert (check.code, check.judged, check.supported, check.supporting, check.cited) == (True, True, True, (1,), (2,))
    # A line must stand in a source as code does, not inside a longer word.
    [partial] = grounding.check("```\npip install -U guild\n```", units, HashEmbedder()).sentences
    assert not partial.supported
    # Code on the fence's own line (Slack writes blocks so) is code, not an info string to skip.
    assert grounding.code_lines("```import made_up_module\nprint(1)\n```") == ["import made_up_module", "print(1)"]
    assert grounding.code_lines("```pip install -U guildhall```") == ["pip install -U guildhall"]
    [invented] = grounding.check(
        "```import made_up_module\npip install -U guildhall```", units, HashEmbedder()
    ).sentences
    assert invented.judged and not invented.supported


async def test_citation_like_text_inside_code_stays_and_no_mark_goes_inside_a_block() -> None:
    source = "Read the first item with items[1] in the handler, e.g. value = items[1]"
    draft = "Read the first item with `items[1]` in the handler [1].\n```\nvalue = items[1]\n```"
    result = await answer(draft, source)
    assert result.text == "Read the first item with `items[1]` in the handler [1].\n```\nvalue = items[1]\n``` [1]"


async def test_an_unclosed_block_is_closed_or_when_cut_off_by_the_token_limit_dropped() -> None:
    draft = "Start the dev server with npm run dev [1].\n```\nnpm run dev"
    assert (await answer(draft, NPM)).text == "Start the dev server with npm run dev [1].\n```\nnpm run dev\n``` [1]"
    cut = await answer(draft, NPM, finish_reason="length")
    assert cut.text == "Start the dev server with npm run dev [1]."


async def test_line_breaks_survive_dropped_lines_and_sentences_on_one_line_stay_on_it() -> None:
    draft = (
        "Start the dev server with npm run dev [1]. The moon is made of cheese.\n"
        "The moon is made of green cheese.\n\n"
        "- Set PORT=3000 in the env file for the dev server port [2]."
    )
    result = await answer(draft, NPM, PORT)
    assert result.text == (
        "Start the dev server with npm run dev [1].\n\n- Set PORT=3000 in the env file for the dev server port [2]."
    )


def test_a_loop_on_one_line_is_still_told_once() -> None:
    # Markers within a line are a looping model's numbering, not a list (dropped as before).
    loop = (
        "Open the manifest [1]. 2. Paste the manifest to the workspace [1]. 3. Paste the manifest to the workspace [1]."
    )
    assert grounding.unique_sentences(grounding.split_sentences(loop)) == [
        "Open the manifest [1].",
        "Paste the manifest to the workspace [1].",
    ]
    # At the start of a line the marker stays with its item.
    assert grounding.split_sentences("1. Open it [1]. Then paste it.\n2. Save") == [
        "1. Open it [1].",
        "Then paste it.",
        "2. Save",
    ]
