"""Action -> Slack Web API arguments (pure)."""

from __future__ import annotations

import json

import pytest

from adapters.slack.render import (
    BLOCKS_PER_MESSAGE,
    MESSAGE_TEXT_BUDGET,
    SECTION_LIMIT,
    block_text_length,
    citation_lines,
    ephemeral_args,
    file_upload_args,
    neutralize,
    post_message_args,
    reaction_name,
    render_posts,
    response_url_bodies,
    split_text,
)
from bot.events import Attachment, Button, Citation


@pytest.mark.parametrize(
    "text",
    [
        "<!channel> look",
        "<!here|here> look",
        "<!everyone> look",
        "<!HERE> look",
        "<!subteam^S0123ABC|@oncall> look",
        "<!subteam^S0123ABC> look",
        "@here look",
        "hey @channel look",
    ],
)
def test_broadcasts_are_neutralized(text: str) -> None:
    out = neutralize(text)
    assert "<!" not in out
    assert "@here" not in out and "@channel" not in out and "@everyone" not in out
    assert out.endswith("look")


def test_neutralize_keeps_normal_markup() -> None:
    text = "see <https://x.test|docs>, ask <@U123> in <#C1|general> about @heredoc"
    assert neutralize(text) == text


def test_split_text_respects_limit_and_boundaries() -> None:
    paragraphs = ["p" * 1000 for _ in range(10)]
    chunks = split_text("\n\n".join(paragraphs))
    assert all(len(c) <= SECTION_LIMIT for c in chunks)
    assert "".join(chunks).replace("\n", "") == "".join(paragraphs)  # nothing lost
    assert all(len(c.replace("\n", "")) % 1000 == 0 for c in chunks)  # cut between paragraphs
    blob = "x" * 7000  # no boundary at all
    assert [len(c) for c in split_text(blob)] == [3000, 3000, 1000]
    assert split_text("   ") == []


def test_citations_are_numbered_escaped_links() -> None:
    lines = citation_lines(
        [
            Citation(2, "Second <b> | & co", "https://acme.slack.com/archives/C1/p1", note="thread"),
            Citation(1, "First", "https://x.test/a"),
            Citation(3, "No URL", "not-a-url"),
        ]
    )
    assert lines[0] == "[1] <https://x.test/a|First>"
    assert lines[1] == "[2] <https://acme.slack.com/archives/C1/p1|Second &lt;b&gt; ¦ &amp; co> — thread"
    assert lines[2] == "[3] No URL"


def test_render_with_buttons_and_citations() -> None:
    buttons = [Button("qa.up", "👍 Helpful", "a1", style="primary"), Button("qa.down", "x" * 100, "a1", style="weird")]
    [post] = render_posts("Answer <!here>", [Citation(1, "Doc", "https://x.test")], buttons)
    kinds = [b["type"] for b in post.blocks]
    assert kinds == ["section", "section", "actions"]
    assert "<!here>" not in post.text
    up, down = post.blocks[2]["elements"]
    assert up["style"] == "primary" and up["action_id"] == "qa.up" and up["value"] == "a1"
    assert "style" not in down and len(down["text"]["text"]) == 75 and down["text"]["text"].endswith("…")
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    [post] = render_posts("x", [], [Button("qa.x", "a" * 72 + family, "a1")])
    label = post.blocks[-1]["elements"][0]["text"]["text"]
    assert label == "a" * 72 + "…"  # never one person of the family


def test_huge_answer_splits_into_messages_within_limits() -> None:
    # 120 full sections: three to a message, for the text budget (it was 3 messages of up to 50
    # sections, ~150k characters each, before Slack's total per message was known: msg_blocks_too_long).
    text = "\n\n".join("y" * 2999 for _ in range(120))
    posts = render_posts(text)
    assert len(posts) == 40
    assert all(len(p.blocks) <= BLOCKS_PER_MESSAGE for p in posts)
    assert all(sum(block_text_length(b) for b in p.blocks) <= MESSAGE_TEXT_BUDGET for p in posts)
    assert all(len(p.text) <= 3000 for p in posts)


def test_empty_text_still_sends_something() -> None:
    [post] = render_posts("")
    assert post.text.strip() == "" and post.text != ""


def test_post_and_ephemeral_args() -> None:
    [args] = post_message_args("C1", "hi", thread_ts="1.2")
    assert args["channel"] == "C1" and args["thread_ts"] == "1.2" and args["unfurl_links"] is False
    json.dumps(args)  # serializable as the SDK sends it
    [eph] = ephemeral_args("C1", "U1", "psst")
    assert eph["user"] == "U1" and "thread_ts" not in eph


def test_response_url_bodies() -> None:
    [body] = response_url_bodies("ok", ephemeral=False)
    assert body["response_type"] == "in_channel" and body["replace_original"] is False
    assert response_url_bodies("ok", ephemeral=True)[0]["response_type"] == "ephemeral"


@pytest.mark.parametrize(
    ("emoji", "name"),
    [("👍", "+1"), (":eyes:", "eyes"), ("white_check_mark", "white_check_mark"), ("+1::skin-tone-2", "+1")],
)
def test_reaction_names(emoji: str, name: str) -> None:
    assert reaction_name(emoji) == name


def test_file_upload_args() -> None:
    assert file_upload_args("C1", []) is None
    args = file_upload_args("C1", [Attachment("c.png", "image/png", b"png")], thread_ts="9.9")
    assert args == {
        "channel": "C1",
        "thread_ts": "9.9",
        "file_uploads": [{"content": b"png", "filename": "c.png", "title": "c.png"}],
    }


def test_text_is_escaped_for_mrkdwn_but_slack_markup_is_kept() -> None:
    """`List<String>` or `a < b && c` (a member's words echoed, code in an answer) must show as
    written; `<String>` would otherwise be read as a link. Mentions, channels and links stay markup."""
    [post] = render_posts("Use List<String> when a < b && c, ask <@U1> in <#C1|help> or see <https://x.io|docs>")
    text = post.blocks[0]["text"]["text"]
    assert text == (
        "Use List&lt;String&gt; when a &lt; b &amp;&amp; c, ask <@U1> in <#C1|help> or see <https://x.io|docs>"
    )
