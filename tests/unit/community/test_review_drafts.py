"""Shadow-mode drafts (review, round 3).

* A pending draft quoting a message deleted since was still posted on approval: the QA answer log
  scrubs answers quoting a deleted message, drafts were not. Drafts now keep the ids of the
  messages they cite; a delete (of the message, or of its channel) takes them out of the
  moderators' hands, and approving says the draft is no longer available.
* A draft whose question was deleted was still posted, into the deleted question's thread.
* A Discord private thread (a channel of its own, ``parent_id`` its channel) of a shadow channel
  was no shadow channel: a mention there was answered at once, unapproved.
"""

from __future__ import annotations

from typing import Any

from bot.clock import FakeClock
from bot.config import Settings
from bot.events import ChannelDeleted, ChannelRef, ChannelSeen, MessageDeleted, Platform, SendEphemeral, Visibility
from bot.testing import ScriptedLLM, make_message
from bot.testing.builders import BASE_TIME
from tests.unit.community.test_community_brain import (
    HELP,
    approve_button,
    community_settings,
    echo_first_source,
    first_shadow_draft,
    mod_click,
    post,
    sent,
    shadow_mode_in_help,
    start,
)

__all__ = ["community_settings"]  # the fixture, imported for pytest

QUOTED = "requests==2.31.0"  # from bob's h2, which dan's draft quotes


def posted_in_help(adapter: Any) -> list[Any]:
    return [m for m in sent(adapter) if m.channel.channel_id == "help"]


def quotes_h2(message: Any) -> bool:
    return QUOTED in message.text or any(QUOTED in (c.snippet or "") for c in message.citations)


async def test_approving_a_draft_that_quotes_a_deleted_message_posts_nothing(
    make_app: Any, community_settings: Settings
) -> None:
    app, adapter, clock, draft = await first_shadow_draft(make_app, community_settings)
    assert QUOTED in draft.text
    await post(app, adapter, MessageDeleted(channel=HELP, message_id="h2", deleted_at=clock.now()))
    row = await app.store.db.fetchone("SELECT status, answer FROM community_drafts")
    assert row == ("gone", "")  # its text goes with the message it quotes
    await post(app, adapter, mod_click(approve_button(draft), "mod1", "dm1", "c1"))
    assert not any(quotes_h2(m) for m in posted_in_help(adapter))
    notice = adapter.of_type(SendEphemeral)[-1]
    assert notice.user.user_id == "mod1" and "no longer available" in notice.text


async def test_a_delete_of_a_message_the_draft_does_not_quote_leaves_it(
    make_app: Any, community_settings: Settings
) -> None:
    app, adapter, clock, draft = await first_shadow_draft(make_app, community_settings)
    await post(app, adapter, make_message("unrelated chatter", author="zed", chan=HELP, message_id="z1", minutes=20))
    await post(app, adapter, MessageDeleted(channel=HELP, message_id="z1", deleted_at=clock.now()))
    await post(app, adapter, mod_click(approve_button(draft), "mod1", "dm1", "c1"))
    [answer] = posted_in_help(adapter)
    assert answer.thread_id == "d1" and QUOTED in answer.text


async def test_approving_a_draft_whose_quoted_message_the_store_shows_deleted_posts_nothing(
    make_app: Any, community_settings: Settings
) -> None:
    """The delete reached the store but not this brain (it was handled before the draft was written,
    or by another worker): approval reads the store again."""
    app, adapter, _, draft = await first_shadow_draft(make_app, community_settings)
    await app.store.delete_message("console", "local", "h2", "help")
    await post(app, adapter, mod_click(approve_button(draft), "mod1", "dm1", "c1"))
    assert posted_in_help(adapter) == []
    assert "a message it quotes was deleted" in adapter.of_type(SendEphemeral)[-1].text


async def test_approving_a_draft_whose_question_was_deleted_posts_nothing(
    make_app: Any, community_settings: Settings
) -> None:
    app, adapter, clock, draft = await first_shadow_draft(make_app, community_settings)
    await post(app, adapter, MessageDeleted(channel=HELP, message_id="d1", deleted_at=clock.now()))
    await post(app, adapter, mod_click(approve_button(draft), "mod1", "dm1", "c1"))
    assert posted_in_help(adapter) == []
    notice = adapter.of_type(SendEphemeral)[-1]
    assert notice.user.user_id == "mod1" and "no longer available" in notice.text


async def test_approving_a_draft_whose_question_the_store_shows_deleted_posts_nothing(
    make_app: Any, community_settings: Settings
) -> None:
    app, adapter, _, draft = await first_shadow_draft(make_app, community_settings)
    await app.store.delete_message("console", "local", "d1", "help")
    await post(app, adapter, mod_click(approve_button(draft), "mod1", "dm1", "c1"))
    assert posted_in_help(adapter) == []
    assert "its question was deleted" in adapter.of_type(SendEphemeral)[-1].text
    assert await app.store.db.fetchone("SELECT status, answer FROM community_drafts") == ("gone", "")


async def test_a_deleted_channel_takes_the_drafts_quoting_it(make_app: Any, community_settings: Settings) -> None:
    app, adapter, clock, draft = await first_shadow_draft(make_app, community_settings)
    await post(app, adapter, ChannelDeleted(HELP, clock.now()))
    assert await app.store.db.fetchone("SELECT status, answer FROM community_drafts") == ("gone", "")
    await post(app, adapter, mod_click(approve_button(draft), "mod1", "dm1", "c1"))
    assert posted_in_help(adapter) == []


async def test_a_draft_written_before_cited_messages_were_kept_goes_with_any_delete(
    make_app: Any, community_settings: Settings
) -> None:
    """Nobody knows what it quotes: any delete in its workspace may be of a message it quotes."""
    app, adapter, clock, draft = await first_shadow_draft(make_app, community_settings)
    await app.store.db.execute("UPDATE community_drafts SET cited_messages = NULL")
    await post(app, adapter, make_message("unrelated chatter", author="zed", chan=HELP, message_id="z1", minutes=20))
    await post(app, adapter, MessageDeleted(channel=HELP, message_id="z1", deleted_at=clock.now()))
    await post(app, adapter, mod_click(approve_button(draft), "mod1", "dm1", "c1"))
    assert posted_in_help(adapter) == []


def private_thread_of_help(parent_id: str | None = "help") -> ChannelRef:
    """A private thread opened in #help: a private channel of its own, dan its only member."""
    return ChannelRef(
        Platform.CONSOLE,
        "local",
        "th1",
        "poetry trouble",
        Visibility.PRIVATE,
        allowed_user_ids=("dan",),
        parent_id=parent_id,
    )


async def test_a_mention_in_a_private_thread_of_a_shadow_channel_is_never_posted_unapproved(
    make_app: Any, community_settings: Settings
) -> None:
    """Nor drafted to #mods, whose readers may not be the thread's: it gets no answer."""
    app, adapter = await start(make_app, community_settings, ScriptedLLM(echo_first_source), FakeClock(BASE_TIME))
    await shadow_mode_in_help(app, adapter)
    thread = private_thread_of_help()
    await post(app, adapter, ChannelSeen(thread, member_ids=("dan",)))
    question = make_message(
        "@guildhall how do I pin a dependency version with poetry?",
        author="dan",
        chan=thread,
        message_id="t1",
        mentions_bot=True,
    )
    await post(app, adapter, question)
    assert sent(adapter) == []
    assert await app.brain("community").is_shadow_channel(thread)


async def test_a_private_thread_is_in_shadow_mode_by_its_parents_name_and_its_stored_parent(
    make_app: Any, community_settings: Settings
) -> None:
    """shadow_channels names #help by name; the thread's ref may not carry its parent (an event
    serialized before the field), the stored channel does."""
    app, adapter = await start(make_app, community_settings, ScriptedLLM(echo_first_source), FakeClock(BASE_TIME))
    await post(app, adapter, ChannelSeen(ChannelRef(Platform.CONSOLE, "local", "C9", "help")))
    await shadow_mode_in_help(app, adapter)
    thread = ChannelRef(Platform.CONSOLE, "local", "th2", "pins", Visibility.PRIVATE, parent_id="C9")
    await post(app, adapter, ChannelSeen(thread, member_ids=("dan",)))
    community = app.brain("community")
    assert await community.is_shadow_channel(thread)
    assert await community.is_shadow_channel(ChannelRef(Platform.CONSOLE, "local", "th2", "pins", Visibility.PRIVATE))
    other = ChannelRef(Platform.CONSOLE, "local", "th3", "pins", Visibility.PRIVATE, parent_id="general")
    assert not await community.is_shadow_channel(other)
