"""Answers written in markdown reach Slack as mrkdwn: bold, links, headings and code render."""

from __future__ import annotations

from adapters.slack.render import markdown_to_mrkdwn, render_posts


def _sent(text: str) -> str:
    [post] = render_posts(text)
    section: str = post.blocks[0]["text"]["text"]
    return section


def test_markdown_bold_links_and_headings_become_mrkdwn() -> None:
    text = "## Install\nUse **pip** & read [the docs](https://docs.example.org/a?b=1) [1]"
    assert _sent(text) == "*Install*\nUse *pip* &amp; read <https://docs.example.org/a?b=1|the docs> [1]"


def test_a_bold_heading_is_bold_once() -> None:
    assert _sent("## **Steps**\n### __Why__") == "*Steps*\n*Why*"


def test_a_fence_language_tag_is_dropped_and_code_left_as_written() -> None:
    text = "Run:\n```bash\npip install **x** [a](https://y.io) a<b\n```\nthen `**k**`"
    assert _sent(text) == "Run:\n```\npip install **x** [a](https://y.io) a&lt;b\n```\nthen `**k**`"


def test_a_link_text_cannot_carry_markup_or_pings() -> None:
    sent = _sent("[<!channel> look|here](https://evil.example/x) and [ok](javascript:alert(1))")
    assert "<!channel>" not in sent
    assert sent.startswith("<https://evil.example/x|&lt;!channel&gt; look¦here>")
    assert "[ok](javascript:alert(1))" in sent  # only web links become links


def test_markdown_to_mrkdwn_leaves_plain_text_and_slack_markup_alone() -> None:
    text = "a * b, #general, <https://x.io|docs> and <@U1>"
    assert markdown_to_mrkdwn(text) == text
