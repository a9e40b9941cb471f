"""A sentence that says its own clause twice ("X, but X") or says it and its negation ("X, but not
X") is degenerate, so unsupported: before, its words were all in a source, so it passed the overlap
rule and was posted with a citation (seen from the bundled model in the console review)."""

from __future__ import annotations

import pytest

from bot.ml import ScoredUnit, Unit
from bot.testing import HashEmbedder
from brain.qa import grounding

SOURCE = (
    "/forget-me deletes the text of all your stored messages. Guildhall never reads or deletes messages "
    "from channels it was never invited to. It does delete messages from its store and search index."
)
SEEN = [
    "It does not delete messages from channels it was never invited to, but it does delete messages from "
    "channels it was never invited to [2].",
    "The community bot does not delete messages from channels it was never invited to, but it does delete "
    "messages from channels it was never invited to [2].",
]


@pytest.mark.parametrize("sentence", SEEN)
def test_a_sentence_saying_x_and_not_x_is_judged_and_unsupported(sentence: str) -> None:
    unit = Unit("a", "slack", "T1", "C1", SOURCE, message_ids=("a",), url="https://x/a")
    [check] = grounding.check(sentence, [ScoredUnit(unit, 1.0)], HashEmbedder()).sentences
    assert check.judged and not check.supported
    assert grounding.degenerate(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "You can run the bot with docker, or you can run the bot with docker.",  # the same clause twice
        "Restart the bot after you change the token and restart the bot after you change the token.",
        "Il ne supprime pas les messages des canaux privés, mais il supprime les messages des canaux privés.",
        "Der Bot löscht keine Nachrichten aus privaten Kanälen, aber er löscht Nachrichten aus privaten Kanälen.",
        "El bot no borra los mensajes de los canales privados, pero borra los mensajes de los canales privados.",
        "It doesn't index messages in private channels, but it does index messages in private channels.",
        "Бот не удаляет сообщения из приватных каналов, но он удаляет сообщения из приватных каналов.",
        "它不删除私有频道的消息，但是它删除私有频道的消息。",  # Han: each character a word
    ],
)
def test_a_repeated_or_negated_clause_is_degenerate_in_several_languages(sentence: str) -> None:
    assert grounding.degenerate(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        # Different verbs or subjects around the shared words: a contrast, not a repeat.
        "It reads messages in channels it was invited to and ignores messages in channels it was not invited to.",
        "Slack delivers messages from channels the bot was invited to, but Discord delivers messages from "
        "channels the bot can view.",
        "Slack does delete messages from channels it was invited to, but Discord does not delete messages from "
        "channels it was invited to.",
        # Two negations apart: "X if A, and not X if not A" is a contrast too.
        "Messages are indexed if the channel is public, and not indexed if the channel is not public.",
        # Something follows the second saying.
        "Set the timeout in the config file and restart, or set the timeout in the config file and reload.",
        # Shared words that do not end the sentence, and plain lists.
        "Install ruff, pytest, mypy and pre-commit, then run the hooks once.",
        "Use asyncio.timeout to cancel the task, not asyncio.wait_for to cancel the task.",
        "Now I need to tell apart the ones we worked on last week and the ones not worked on.",
        "它删除私有频道的消息，也删除公开频道的消息。",
        # A link Slack writes as its address twice is no clause said twice.
        "Here is another guide for that <http://beautifulracket.com/mac-path.html|beautifulracket.com/mac-path.html>",
    ],
)
def test_contrasts_and_lists_are_not_degenerate(sentence: str) -> None:
    assert not grounding.degenerate(sentence)
