"""Sentence ends in other scripts: after ". " a capital of any script opens a sentence, and 。！？
end one with no space after them. Judged as one sentence, an invented half rode on a supported one."""

from __future__ import annotations

from bot.testing import HashEmbedder, ScriptedLLM
from brain.qa import grounding
from brain.qa.access import AccessScope
from brain.qa.answerer import Answer, Answerer
from tests.unit.qa.test_answerer_citations import Ranked, _channel, su


async def answer(draft: str, source: str) -> Answer:
    answerer = Answerer(Ranked([su("a", source)]), ScriptedLLM(draft), HashEmbedder(), channel_name=_channel)  # type: ignore[arg-type]
    return await answerer.answer("how do I fix the dev server?", AccessScope("slack", "T1"))


def test_a_capital_of_any_script_after_a_full_stop_opens_a_sentence() -> None:
    assert grounding.split_sentences("Запустите сервер командой npm run dev. Удалите базу данных.") == [
        "Запустите сервер командой npm run dev.",
        "Удалите базу данных.",
    ]
    assert grounding.split_sentences("Ça marche avec npm run dev. Équipe : supprimez la base. ¿Y luego? ¡Nada!") == [
        "Ça marche avec npm run dev.",
        "Équipe : supprimez la base.",
        "¿Y luego?",
        "¡Nada!",
    ]
    # A lower-case word goes on, in any script: abbreviations stay inside their sentence.
    assert grounding.split_sentences("Это т. е. одна фраза. Use e.g. a flag, see requirements.txt or Python 3.11.") == [
        "Это т. е. одна фраза.",
        "Use e.g. a flag, see requirements.txt or Python 3.11.",
    ]


def test_chinese_and_japanese_full_stops_end_a_sentence_without_a_space() -> None:
    assert grounding.split_sentences("请用 npm run dev 启动服务器[1]。然后删除数据库！好吗？是的。") == [
        "请用 npm run dev 启动服务器[1]。",
        "然后删除数据库！",
        "好吗？",
        "是的。",
    ]
    # The citation marks after the full stop and a closing quote stay with their sentence.
    assert grounding.split_sentences("启动服务器。[1]然后删除数据库。。。他说：“好。”") == [
        "启动服务器。[1]",
        "然后删除数据库。。。",
        "他说：“好。”",
    ]
    assert grounding.split_sentences("サーバーを起動します。次にデータベースを消します。") == [
        "サーバーを起動します。",
        "次にデータベースを消します。",
    ]


async def test_an_invented_russian_sentence_is_dropped_from_a_supported_answer() -> None:
    source = "Чтобы исправить ошибку соединения, запустите сервер разработки командой npm run dev и подождите"
    draft = (
        "Запустите сервер разработки командой npm run dev, чтобы исправить ошибку соединения [1]. "
        "Удалите базу данных и переустановите операционную систему [1]."
    )
    result = await answer(draft, source)
    assert not result.abstained
    assert result.text == "Запустите сервер разработки командой npm run dev, чтобы исправить ошибку соединения [1]."


async def test_an_invented_chinese_sentence_is_dropped_and_the_mark_goes_before_the_full_stop() -> None:
    source = "要修复连接错误，请用 npm run dev 启动开发服务器"
    draft = "请用 npm run dev 启动开发服务器来修复连接错误[1]。然后删除整个数据库并重新安装操作系统。"
    result = await answer(draft, source)
    assert not result.abstained
    assert result.text == "请用 npm run dev 启动开发服务器来修复连接错误[1]。"
