"""A long answer or digest stays under Slack's total of block text per message.

Besides 3,000 characters per section and 50 blocks, ``chat.postMessage`` refuses a message whose
blocks' text adds up past about 12,000 characters (``msg_blocks_too_long``, undocumented: slackapi/
bolt-js #2509, #2867). ``render_posts`` cuts such an answer into several messages of whole sections,
so a code block is never cut between messages. The fake Web API refuses as Slack does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adapters.slack import render
from adapters.slack.adapter import SlackAdapter
from bot.events import Button, ChannelRef, Citation, Platform, SendMessage, Visibility
from tests.slack_fakes import MSG_BLOCKS_TEXT_LIMIT, TEAM_ID, FakeSlackAPI, adapter_settings, blocks_text_length

GENERAL = ChannelRef(Platform.SLACK, TEAM_ID, "CGENERAL", "general", Visibility.PUBLIC)
# ~15,500 characters in 16 paragraphs: each section is fine, one message holding them all is not.
ESSAY = "\n\n".join(f"Paragraph {i}. " + "word " * 190 for i in range(16))
# Steps with code, longer than one message: 12 fenced blocks of ~1,000 characters each.
CODE_ANSWER = "\n\n".join(
    f"Step {i}: run this.\n```python\n" + "\n".join(f"print({i}, {j})  # {'x' * 60}" for j in range(12)) + "\n```"
    for i in range(12)
)


def _block_text(post: dict[str, Any]) -> int:
    return sum(render.block_text_length(b) for b in post["blocks"])


def _sections(posts: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for p in posts for b in p["blocks"] if b["type"] == "section"]


def test_a_long_answer_is_several_messages_each_within_the_budget() -> None:
    posts = render.post_message_args("C1", ESSAY)
    assert len(posts) == 2
    assert all(_block_text(p) <= render.MESSAGE_TEXT_BUDGET for p in posts)
    assert "".join(_sections(posts)).split() == ESSAY.split()  # every word once, in order


def test_code_blocks_are_never_cut_between_messages() -> None:
    posts = render.post_message_args("C1", CODE_ANSWER)
    assert len(posts) > 1 and all(_block_text(p) <= render.MESSAGE_TEXT_BUDGET for p in posts)
    for post in posts:
        for section in _sections([post]):
            assert section.count("```") % 2 == 0, section  # each section opens and closes its code
    steps = "\n".join(_sections(posts))
    assert all(f"print({i}, 11)" in steps for i in range(12))


def test_citations_and_buttons_count_towards_the_budget() -> None:
    citations = tuple(Citation(n, "t" * 180, f"https://x.test/{n}") for n in range(1, 30))
    buttons = (Button("qa.feedback", "Helpful", "up"), Button("qa.feedback", "Not helpful", "down"))
    posts = render.post_message_args("C1", ESSAY, citations=citations, buttons=buttons)
    assert all(blocks_text_length(p["blocks"]) <= MSG_BLOCKS_TEXT_LIMIT for p in posts)
    assert posts[-1]["blocks"][-1]["type"] == "actions"  # the buttons stay under the whole answer


async def test_a_long_answer_reaches_the_channel_whole(make_app: Any, tmp_path: Path) -> None:
    fake = await FakeSlackAPI().start()
    try:
        settings = adapter_settings(tmp_path)
        app, _ = await make_app(settings_override=settings, brains=[])
        app.add_adapter(SlackAdapter(settings, store=app.store, client_base_url=fake.url))
        await app.bus.publish(SendMessage(GENERAL, ESSAY))
        await app.bus.drain()
    finally:
        await fake.stop()
    posts = fake.calls_to("chat.postMessage")
    # Before the cut, the one message was refused (msg_blocks_too_long) and the answer lost.
    assert len(posts) == 2
    assert all(isinstance(p["blocks"], list) for p in posts)  # sent as JSON
    assert "".join(_sections(posts)).split() == ESSAY.split()
