"""Chinese and Japanese messages have words: a whole unspaced sentence is not one word."""

from __future__ import annotations

from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import pytest

from bot.recorder import Recorder
from bot.store import Store
from bot.testing import make_message
from brain.activity.counters import ActivityCounters
from brain.activity.scan import open_questions
from brain.activity.scoring import word_count
from tests.store_backends import fresh_store


def test_unspaced_scripts_count_a_word_per_two_characters() -> None:
    assert word_count("构建失败是因为缓存太旧") == 6  # 11 characters
    assert word_count("Pythonのインストール方法") == 6  # "Python" and 9 kana/Han characters
    assert word_count("it works on my machine") == 5  # spaced scripts unchanged
    assert word_count("это не работает") == 3
    assert word_count("+1 👍") == 1


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    async with fresh_store("sqlite") as s:
        yield s


async def test_an_answer_in_chinese_answers_the_question(store: Store) -> None:
    # The answered rule asks a reply of min_words words: a Chinese answer counted as one word, so
    # every question answered in Chinese stayed in the unanswered pile-up.
    events = [
        make_message("为什么在 arm 上构建 docker 镜像会失败?", author="asker", chan="help", message_id="q1"),
        make_message(
            "在客户端会话上设置超时，然后使用指数退避重试就可以解决这个问题了",
            author="helper",
            chan="help",
            message_id="a1",
            thread_id="q1",
            minutes=1,
        ),
    ]
    await Recorder(store).handle_batch(events)
    await ActivityCounters(store, ZoneInfo("UTC")).apply(events)
    flags = {q.message_id: q.answered for q in await open_questions(store, "console", "local", 0.0)}
    assert flags == {"q1": True}
