"""Outbound actions through discord.py's real HTTP layer: what Discord would receive."""

from __future__ import annotations

import logging

import pytest

from bot.events import (
    Attachment,
    Button,
    ChannelRef,
    MarkThreadSolved,
    Platform,
    SendDirectMessage,
    SendEphemeral,
    SendMessage,
    UserRef,
    Visibility,
)
from tests.unit.adapters.discord.fakes import (
    ALICE_ID,
    APP_ID,
    BOT_ID,
    FORUM_ID,
    GENERAL_ID,
    GUILD_ID,
    SOLVED_TAG_ID,
    THREAD_ID,
    feed,
    interaction_payload,
    message_payload,
    next_id,
    stored_views,
    thread_payload,
    use_transport,
    user_payload,
)
from tests.unit.adapters.discord.harness import CODE_ANSWER, PNG, Env, drain

MESSAGES = "/channels/{channel_id}/messages"
FOLLOWUP = "/webhooks/{webhook_id}/{webhook_token}"
REACTION = "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me"
GENERAL = ChannelRef(Platform.DISCORD, GUILD_ID, GENERAL_ID, "general", Visibility.PUBLIC)
FORUM = ChannelRef(Platform.DISCORD, GUILD_ID, FORUM_ID, "help", Visibility.PUBLIC, is_forum=True)
ALICE = UserRef(Platform.DISCORD, GUILD_ID, ALICE_ID, "alice")


def _ask(question: str) -> dict[str, object]:
    return interaction_payload("ask", [{"name": "question", "type": 3, "value": question}])


def _fences_balanced(text: str) -> bool:
    return sum(1 for line in text.split("\n") if line.strip().startswith("```")) % 2 == 0


async def test_citations_become_an_embed_with_links(env: Env) -> None:
    feed(env.client, "INTERACTION_CREATE", _ask("cited"))
    await drain(env.app)
    [followup] = env.http.sent("POST", FOLLOWUP)
    assert followup.json["content"] == "Use pip [1]."
    [embed] = followup.json["embeds"]
    assert embed["title"] == "Sources"
    assert "[1]" in embed["description"] and "(https://docs.example.org/install)" in embed["description"]
    assert "@everyone" not in embed["description"]  # titles come from community messages


async def test_png_chart_is_uploaded_as_an_attachment(env: Env) -> None:
    chart = Attachment("leaderboard.png", "image/png", PNG)
    await env.app.bus.publish(SendMessage(GENERAL, "This week's helpers", attachments=(chart,)))
    await drain(env.app)
    [sent] = env.http.sent("POST", MESSAGES)
    assert sent.url.endswith(f"/channels/{GENERAL_ID}/messages")
    assert sent.files == ["leaderboard.png"]  # multipart upload, not a link
    assert sent.json["attachments"] == [{"id": 0, "filename": "leaderboard.png"}]
    assert sent.json["content"] == "This week's helpers"


async def test_slash_command_chart_is_a_followup_attachment(env: Env) -> None:
    feed(env.client, "INTERACTION_CREATE", _ask("chart"))
    await drain(env.app)
    [followup] = env.http.sent("POST", FOLLOWUP)
    assert followup.files == ["chart.png"]


async def test_long_answer_with_code_blocks_is_split_without_breaking_them(env: Env) -> None:
    assert len(CODE_ANSWER) > 4000
    feed(env.client, "INTERACTION_CREATE", _ask("code"))
    await drain(env.app)
    parts = [f.json["content"] for f in env.http.sent("POST", FOLLOWUP)]
    assert len(parts) >= 3
    assert all(0 < len(p) <= 2000 for p in parts)
    assert all(_fences_balanced(p) for p in parts)  # each message renders on its own
    assert all(f"print({i}, 11)" in "".join(parts) for i in range(12))  # nothing lost


async def test_six_thousand_characters_in_a_channel_message_are_three_messages(env: Env) -> None:
    await env.app.bus.publish(SendMessage(GENERAL, "y" * 6000, thread_id=THREAD_ID))
    await drain(env.app)
    sent = env.http.sent("POST", MESSAGES)
    assert [len(s.json["content"]) for s in sent] == [2000, 2000, 2000]
    assert all(s.url.endswith(f"/channels/{THREAD_ID}/messages") for s in sent)


async def test_followups_disable_every_mention(env: Env) -> None:
    feed(env.client, "INTERACTION_CREATE", _ask("@here <@&1234>"))
    await drain(env.app)
    [followup] = env.http.sent("POST", FOLLOWUP)
    assert followup.json["allowed_mentions"] == {"parse": []}
    assert "@here" not in followup.json["content"]


async def test_ephemeral_goes_through_the_interaction(env: Env) -> None:
    feed(env.client, "INTERACTION_CREATE", interaction_payload("help"))
    await drain(env.app)
    interaction_id = env.seen.events[-1].event_id.rsplit(":", 1)[-1]
    await env.app.bus.publish(SendEphemeral(GENERAL, ALICE, "only for you", response_ref=interaction_id))
    await drain(env.app)
    private = [f for f in env.http.sent("POST", FOLLOWUP) if f.json.get("content") == "only for you"]
    assert len(private) == 1 and private[0].flags & 64


async def test_ephemeral_without_interaction_falls_back_to_a_dm(env: Env) -> None:
    await env.app.bus.publish(SendEphemeral(GENERAL, ALICE, "psst"))
    await drain(env.app)
    [dm] = env.http.sent("POST", MESSAGES)
    assert dm.url.endswith(f"/channels/{env.http.dm_channel_id}/messages") and dm.json["content"] == "psst"


async def test_mark_forum_post_solved_applies_the_solved_tag_and_reacts(env: Env) -> None:
    post_id = next_id()
    feed(env.client, "THREAD_CREATE", {**thread_payload(post_id, FORUM_ID, "Crash", ALICE_ID), "newly_created": True})
    answer_id = next_id()
    await env.app.bus.publish(MarkThreadSolved(FORUM, post_id, answer_id))
    await drain(env.app)
    [tagged] = env.http.sent("PATCH", "/channels/{channel_id}")
    assert tagged.url.endswith(f"/channels/{post_id}")
    assert tagged.json == {"applied_tags": [SOLVED_TAG_ID]}
    [reaction] = env.http.sent("PUT", REACTION)
    assert f"/messages/{answer_id}/reactions/" in reaction.url


async def test_mark_plain_thread_solved_only_reacts(env: Env) -> None:
    await env.app.bus.publish(MarkThreadSolved(GENERAL, THREAD_ID))
    await drain(env.app)
    assert env.http.sent("PATCH", "/channels/{channel_id}") == []
    [reaction] = env.http.sent("PUT", REACTION)
    assert f"/channels/{THREAD_ID}/messages/{THREAD_ID}/reactions/" in reaction.url


async def test_already_solved_post_is_not_tagged_twice(env: Env) -> None:
    post_id = next_id()
    thread = {**thread_payload(post_id, FORUM_ID, "Crash", ALICE_ID), "applied_tags": [SOLVED_TAG_ID]}
    feed(env.client, "THREAD_CREATE", thread)
    await env.app.bus.publish(MarkThreadSolved(FORUM, post_id))
    await drain(env.app)
    assert env.http.sent("PATCH", "/channels/{channel_id}") == []
    assert len(env.http.sent("PUT", REACTION)) == 1


async def test_discord_py_retries_a_429_and_the_reply_is_not_lost(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real ``HTTPClient.request`` and webhook ``request`` meet a 429, wait, and resend."""
    session = use_transport(env.client, monkeypatch)
    session.rate_limit_once("POST", f"/channels/{THREAD_ID}/messages")
    bot = user_payload(BOT_ID, "guildhall", bot=True)
    feed(env.client, "MESSAGE_CREATE", message_payload(THREAD_ID, f"<@{BOT_ID}> hello", mentions=[bot]))
    await drain(env.app)
    posts = [s for s in session.sent if s.url.endswith(f"/channels/{THREAD_ID}/messages")]
    assert [p.status for p in posts] == [429, 200]
    assert posts[0].json == posts[1].json and posts[1].json["content"].startswith("echo:")
    assert env.sleeps.delays == []  # discord.py handled it; the adapter's back-off never ran


async def test_discord_py_retries_a_rate_limited_followup(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    session = use_transport(env.client, monkeypatch)
    payload = _ask("rate?")
    session.rate_limit_once("POST", f"/webhooks/{APP_ID}/{payload['token']}")
    feed(env.client, "INTERACTION_CREATE", payload)
    await drain(env.app)
    followups = [s for s in session.sent if "/webhooks/" in s.url]
    assert [f.status for f in followups] == [429, 200]
    assert followups[1].json["content"] == "answer to rate?"
    assert env.sleeps.delays == []


async def test_adapter_backs_off_when_a_rate_limit_still_reaches_it(env: Env) -> None:
    """With ``max_ratelimit_timeout`` discord.py raises ``RateLimited``; the adapter waits and resends."""
    env.http.rate_limit_once("POST", FOLLOWUP, retry_after=0.5)
    feed(env.client, "INTERACTION_CREATE", _ask("again?"))
    await drain(env.app)
    [followup] = env.http.sent("POST", FOLLOWUP)
    assert followup.json["content"] == "answer to again?"
    assert env.sleeps.delays == [0.5]


async def test_dm_to_member_with_dms_closed_is_logged_once_marked_and_not_retried(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    env.http.dms_closed_once()
    caplog.set_level(logging.WARNING, logger="adapters.discord.adapter")
    await env.app.bus.publish(SendDirectMessage(ALICE, "your digest"))
    await env.app.bus.publish(SendDirectMessage(ALICE, "your next digest"))
    await drain(env.app)
    assert ALICE_ID in env.adapter.dm_closed
    assert env.http.sent("POST", MESSAGES) == []
    assert len(env.http.sent("POST", "/users/@me/channels")) == 1  # the second DM was skipped
    warnings = [r for r in caplog.records if "50007" in r.getMessage()]
    assert len(warnings) == 1 and ALICE_ID in warnings[0].getMessage()
    assert env.sleeps.delays == []


async def test_only_the_members_a_message_means_to_notify_are_pinged(env: Env) -> None:
    nudge = SendMessage(GENERAL, f"<@{ALICE_ID}> solved similar threads and may know.", notify_user_ids=(ALICE_ID,))
    quoted = SendMessage(GENERAL, f"As <@{ALICE_ID}> wrote: restart the worker.")
    await env.app.bus.publish(nudge)
    await env.app.bus.publish(quoted)
    await drain(env.app)
    by_text = {p.json["content"]: p.json["allowed_mentions"] for p in env.http.sent("POST", MESSAGES)}
    assert by_text[nudge.text]["users"] == [int(ALICE_ID)] and by_text[nudge.text]["parse"] == []
    assert by_text[quoted.text] == {"parse": []}


async def test_messages_with_buttons_leave_no_view_behind_in_discord_py(env: Env) -> None:
    """Clicks reach the adapter through ``on_interaction``; a view discord.py kept listening for
    every message with buttons (no timeout: every digest, every answer's feedback) grew the bot's
    memory for as long as it ran."""
    feedback = (Button("qa.feedback", "Helpful", value="up:1"), Button("qa.feedback", "Not helpful", value="down:1"))
    await env.app.bus.publish(SendMessage(GENERAL, "answer", buttons=feedback))
    await env.app.bus.publish(SendDirectMessage(ALICE, "digest", buttons=feedback))
    feed(env.client, "INTERACTION_CREATE", interaction_payload("help"))
    await drain(env.app)
    interaction_id = env.seen.events[-1].event_id.rsplit(":", 1)[-1]
    await env.app.bus.publish(SendEphemeral(GENERAL, ALICE, "private", response_ref=interaction_id, buttons=feedback))
    await drain(env.app)
    sent = [*env.http.sent("POST", MESSAGES), *env.http.sent("POST", FOLLOWUP)]
    assert [len(c.json["components"][0]["components"]) for c in sent if c.json.get("components")] == [2, 2, 2]
    assert stored_views(env.client) == 0
