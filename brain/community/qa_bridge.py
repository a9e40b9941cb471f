"""The community brain's only door into the QA brain: answer in a thread, log it (or an approved draft),
find similar units.

Kept in one module so the coupling to the QA brain's internals is visible and small.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.events import Button, ChannelRef, MessagePosted, UserRef
from bot.ml import ScoredUnit
from brain.qa.access import AccessScope, scope_for
from brain.qa.brain import _feedback_buttons, strip_mentions

if TYPE_CHECKING:
    from brain.qa.answerer import Answer
    from brain.qa.brain import QABrain


async def answer_in_thread(qa: QABrain, event: MessagePosted, *, thread_id: str | None) -> Answer | str:
    """Answer ``event`` as its author in its channel; with ``thread_id`` the thread's history condenses
    a follow-up question. A ``str`` result is a notice for the member (the model is busy, timed out
    or unavailable; the index is unreachable)."""
    question = strip_mentions(event.text)[: qa.ctx.settings.qa.max_question_chars]
    return await qa._answer(
        question,
        channel=event.channel,
        user=event.author,
        exclude={event.message_id},
        thread_id=thread_id,
        current_message_id=event.message_id,
    )


def rate_limited(qa: QABrain, event: MessagePosted) -> bool:
    """Whether ``event``'s author (or channel) asked more than the QA brain's per-minute limits allow."""
    return qa._rate_limited(event.author, event.channel) > 0


async def take_question(qa: QABrain, channel: ChannelRef, message_id: str) -> bool:
    """Take the top-level question ``message_id`` for one answer attempt, as the QA brain's own
    answers do: False while it answers the question (a mention, in this or another worker) or once
    it has answered it."""
    key = (channel.platform.value, channel.workspace_id, message_id)
    if key in qa._answering or not await qa._claim_question(*key):
        return False
    return not await qa.answer_log.in_thread(*key)


async def log_answer(qa: QABrain, channel: ChannelRef, thread_id: str, user: UserRef, result: Answer) -> None:
    """Record the answer so later follow-ups in the thread see it (and feedback can find it)."""
    await qa._log(uuid.uuid4().hex, channel, thread_id, user, result)


def feedback_buttons(answer_id: str) -> tuple[Button, ...]:
    """The 👍/👎 buttons the QA brain puts under its answers, for the answer ``answer_id``: a click
    is recorded by the QA brain as feedback on that logged answer."""
    return _feedback_buttons(answer_id)


async def log_approved(
    qa: QABrain,
    answer_id: str,
    channel: ChannelRef,
    thread_id: str | None,
    asker_id: str,
    *,
    question: str,
    text: str,
    cited_units: Sequence[str],
    cited_authors: Sequence[str],
    cited_messages: Sequence[str] | None,
    abstained: bool,
) -> None:
    """Record a shadow-mode draft a moderator approved as the answer it became, now that it is
    posted (as :func:`log_answer` records an answer given at once): feedback on it, follow-ups in
    its thread, the help-channel timer, deletes of messages it quotes and /forget-me then find it.
    ``answer_id`` (the draft's id) makes it idempotent; ``cited_messages`` None: unknown."""
    await qa.log_posted(
        answer_id,
        channel,
        thread_id,
        asker_id,
        question=question,
        text=text,
        cited=cited_units,
        cited_authors=cited_authors,
        cited_messages=cited_messages,
        abstained=abstained,
    )


async def access_scope(qa: QABrain, channel: ChannelRef, user: UserRef) -> AccessScope:
    """What an answer in ``channel`` to ``user`` may draw from: one workspace (for a Discord DM, the
    member's guild) and the channels of it that every reader of the answer can read."""
    return await scope_for(qa.ctx.store, channel, user.user_id)


async def similar_units(
    qa: QABrain, text: str, *, channel: ChannelRef, user: UserRef, k: int, scope: AccessScope | None = None
) -> list[ScoredUnit]:
    """Dense neighbours of ``text`` that an answer in ``channel`` to ``user`` may use (cosine scores);
    ``scope``: that answer's :func:`access_scope`, when the caller has it already."""
    retriever = await qa.retriever()
    if scope is None:
        scope = await access_scope(qa, channel, user)
    return await retriever.search(text, scope, k=k, mode="dense")


async def answers_in_thread(qa: QABrain, channel: ChannelRef, thread_id: str) -> list[tuple[str, float]]:
    """``(asker_id, ts)`` of every answer the bot gave in the thread, oldest first."""
    records = await qa.answer_log.in_thread(channel.platform.value, channel.workspace_id, thread_id)
    return sorted(((r.asker_id, r.ts) for r in records), key=lambda x: x[1])


async def thread_solved(qa: QABrain, channel: ChannelRef, thread_id: str) -> None:
    """Rebuild the thread's units at the next flush, so retrieval sees (and boosts) it as solved."""
    indexer = await qa.indexer()
    indexer.touch_thread(channel.platform.value, channel.workspace_id, thread_id, channel.channel_id)
