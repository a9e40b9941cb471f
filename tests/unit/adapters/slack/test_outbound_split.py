"""A long Slack answer is split into sections without cutting a link in two."""

from __future__ import annotations

from adapters.slack.render import SECTION_LIMIT, render_posts


def test_a_markdown_link_across_the_section_limit_stays_a_whole_slack_link() -> None:
    text = "word " * 590 + "[the thread where it was solved](https://chat.example.com/archives/C1/p1) [1] end"
    [post] = render_posts(text)
    sections = [b["text"]["text"] for b in post.blocks]
    assert len(sections) == 2 and all(len(s) <= SECTION_LIMIT for s in sections)
    assert sections[1].startswith("<https://chat.example.com/archives/C1/p1|the thread where it was solved>")
    assert all(s.count("<") == s.count(">") for s in sections)
