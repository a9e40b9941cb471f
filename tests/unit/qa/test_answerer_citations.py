"""Which sources a kept sentence cites: a number the model wrote only when that source supports the
sentence on its own, read from every citation form models write, renumbered by first use."""

from __future__ import annotations

import pytest

from bot.ml import ScoredUnit, Unit
from bot.testing import HashEmbedder, ScriptedLLM
from brain.qa import grounding
from brain.qa.access import AccessScope
from brain.qa.answerer import Answer, Answerer

NPM = "To fix ERR_CONNECTION_REFUSED start the dev server with npm run dev"
PORT = "The dev server port is configured by setting PORT=3000 in the env file"
NPM_SENTENCE = "Start the dev server with npm run dev to fix ERR_CONNECTION_REFUSED"
PORT_SENTENCE = "Set PORT=3000 in the env file to configure the dev server port"


def su(uid: str, text: str) -> ScoredUnit:
    unit = Unit(uid, "slack", "T1", "C1", text, message_ids=(uid,), url=f"https://x/{uid}", ts_start=1_700_000_000)
    return ScoredUnit(unit, 1.0)


class Ranked:
    """A retriever that returns fixed units, best first."""

    def __init__(self, units: list[ScoredUnit]) -> None:
        self.units = units

    async def search(self, *_: object, **__: object) -> list[ScoredUnit]:
        return self.units


async def _channel(_: ScoredUnit) -> str:
    return "#help"


async def answer(draft: str, *texts: str) -> Answer:
    units = [su(chr(ord("a") + i), t) for i, t in enumerate(texts)]
    answerer = Answerer(Ranked(units), ScriptedLLM(draft), HashEmbedder(), channel_name=_channel)  # type: ignore[arg-type]
    return await answerer.answer("how do I fix the dev server?", AccessScope("slack", "T1"))


async def test_a_cited_source_that_does_not_support_the_sentence_gives_way_to_the_one_that_does() -> None:
    # Only source 2 says this; the model wrote [1].
    result = await answer(f"{PORT_SENTENCE} [1].", NPM, PORT)
    assert result.text == f"{PORT_SENTENCE} [1]."
    assert [c.url for c in result.citations] == ["https://x/b"] and result.cited_unit_ids == ("b",)
    # Of two named sources only the one that supports it stays.
    both = await answer(f"{NPM_SENTENCE} [1][2].", NPM, PORT)
    assert both.text == f"{NPM_SENTENCE} [1]." and both.cited_unit_ids == ("a",)


def test_each_source_is_judged_on_its_own_by_the_checks_test() -> None:
    units = [su("a", NPM), su("b", PORT)]
    [npm, port] = grounding.check(f"{NPM_SENTENCE} [2]. {PORT_SENTENCE} [1].", units, HashEmbedder()).sentences
    assert (npm.supporting, npm.best_source, npm.cited) == ((1,), 1, (2,))
    assert (port.supporting, port.best_source, port.cited) == ((2,), 2, (1,))
    # Close enough to source 1 alone, but naming an identifier only source 2 has: supported by
    # neither on its own, so unsupported (it was supported by the sources together before, and
    # cited to source 1, which lacks the name: tests/unit/qa/test_grounding_one_source.py).
    mixed = grounding.check(
        "To fix ERR_CONNECTION_REFUSED start the dev server with npm run dev on dev_port [2].",
        [su("a", NPM), su("b", "Set dev_port in the env file")],
        HashEmbedder(),
    ).sentences[0]
    assert mixed.judged and not mixed.supported and mixed.supporting == () and mixed.best_source == 1


@pytest.mark.parametrize(
    "mark",
    [
        "[1, 2]",
        "[1,2]",
        "[1-2]",
        "[1–2]",
        "[^1]",
        "[^1][^2]",
        "[source 1]",
        "(source 1)",
        "(sources 1 and 2)",
        "【1】",
        "【1†source】",
        "【1, 2】",
    ],
)
async def test_every_citation_form_is_read_and_none_is_left_in_the_text(mark: str) -> None:
    result = await answer(f"{NPM_SENTENCE} {mark}.", NPM, PORT)
    assert result.text == f"{NPM_SENTENCE} [1]."
    assert result.cited_unit_ids == ("a",)


async def test_other_forms_are_renumbered_by_first_use_like_plain_ones() -> None:
    result = await answer(f"{PORT_SENTENCE} (source 2). {NPM_SENTENCE} [^1].", NPM, PORT)
    assert result.text == f"{PORT_SENTENCE} [1]. {NPM_SENTENCE} [2]."
    assert result.cited_unit_ids == ("b", "a")


def test_citation_numbers_are_parsed_outside_code_only() -> None:
    text = "Index it with `arr[1]` or ```x[2]``` [1, 3] [4-6] [^7] (Source 8) (sources 9 & 10) [1-40]."
    assert grounding.cited_numbers(text) == (1, 3, 4, 5, 6, 7, 8, 9, 10, 40)
    assert grounding.strip_citations(text) == "Index it with `arr[1]` or ```x[2]```."
    assert grounding.cited_numbers("a plain (2) and step [a] are not citations") == ()


async def test_what_worked_before_still_works() -> None:
    # An out-of-range number falls back to the best source; a dropped sentence's number goes with it.
    result = await answer(f"{NPM_SENTENCE} [7]. Reinstall node_modules with yarn --force-rebuild [2].", NPM, PORT)
    assert result.text == f"{NPM_SENTENCE} [1]." and result.cited_unit_ids == ("a",)
    # Two sources that each support a sentence stay side by side.
    restart = "Restart the bot after you change the token"
    both = await answer(f"{restart} [2][1].", restart + ".", "Change the token, then restart the bot.")
    assert both.text == f"{restart} [1][2]." and both.cited_unit_ids == ("b", "a")


async def test_an_index_copied_from_a_source_is_code_not_a_citation() -> None:
    """``rows[1]`` written in a message without backticks and copied by the model: read as source 1
    before, it was cut out of the answer ("... with rows after the query returns")."""
    source = "Read the second element of the result with rows[1] after the query returns"
    result = await answer(f"{source} [1].", source)
    assert result.text == "Read the second element of the result with `rows[1]` after the query returns [1]."
    # A mark glued to a word no source holds so is still a citation.
    restart = "Restart the bot after you change the token"
    glued = await answer(f"{restart}[2].", NPM, restart + ".")
    assert glued.text == f"{restart} [1]." and glued.cited_unit_ids == ("b",)


async def test_a_lenticular_citation_is_renumbered_like_the_others() -> None:
    """Cited as 【2】, the kept sentence showed "【2】 [1]": a number matching no citation."""
    result = await answer(f"{PORT_SENTENCE} 【2†L3-L9】.", NPM, PORT)
    assert result.text == f"{PORT_SENTENCE} [1]." and result.cited_unit_ids == ("b",)


def test_brackets_in_a_web_address_are_neither_code_nor_citations() -> None:
    url = "https://api.example.com/v1/items?ids[0]=5"
    draft = f"Call {url} to list them [1]."
    assert grounding.code_copied_indexes(draft, [f"you can list them with {url}"]) == draft
    assert grounding.strip_citations(draft) == f"Call {url} to list them."
    assert grounding.cited_numbers(draft) == (1,)


def test_an_index_copied_into_chinese_prose_is_code_too() -> None:
    assert (
        grounding.code_copied_indexes("请使用rows[1]获取第二行。", ["value = rows[1]"]) == "请使用`rows[1]`获取第二行。"
    )


async def test_a_web_address_ends_where_its_characters_do() -> None:
    """The address ran to the next space: in Chinese prose (no spaces) it took in the sentence and
    its [1], and a mark glued to its end was read as part of it ("…/docs[1] [1].")."""
    assert grounding.cited_numbers("详情见https://example.com/docs。[1]") == (1,)
    src = "下载安装包请访问 https://example.com/docs 然后运行安装程序"
    result = await answer("下载安装包请访问https://example.com/docs，然后运行安装程序[1]。", src)
    assert result.text == "下载安装包请访问https://example.com/docs，然后运行安装程序[1]。"
    glued = await answer(
        "Download the installer from https://example.com/docs[1].",
        "Download the installer from https://example.com/docs and run it",
    )
    assert glued.text == "Download the installer from https://example.com/docs [1]."
