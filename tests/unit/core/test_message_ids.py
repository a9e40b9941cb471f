"""Channel-qualified Slack ids: building them, reading the ts back, and upgrading old values."""

from __future__ import annotations

from bot.events import MessageEdited, MessagePosted, Platform
from bot.message_ids import native_id, qualified, slack_message_id, slack_ts, upgraded
from bot.testing import channel, make_message, user
from bot.testing.builders import BASE_TIME

SLACK = channel("C1", platform=Platform.SLACK, workspace="T1")


def test_ids_round_trip_and_other_platforms_are_untouched() -> None:
    assert slack_message_id("C1", "1.5") == "C1:1.5" and slack_ts("C1:1.5") == "1.5" and slack_ts("1.5") == "1.5"
    assert native_id("slack", "C1:1.5") == "1.5" and native_id("discord", "123") == "123"
    assert qualified("slack", "C1", "1.5") == "C1:1.5" and qualified("slack", "C1", "C1:1.5") == "C1:1.5"
    assert qualified("discord", "55", "123") == "123" and qualified("slack", "C1", "") == ""


def test_an_event_written_by_an_earlier_version_gains_its_channel() -> None:
    author = user("U1", platform=Platform.SLACK, workspace="T1")
    old = make_message("hi", author=author, chan=SLACK, message_id="2.1", thread_id="1.1")
    new = upgraded(old)
    assert isinstance(new, MessagePosted) and (new.message_id, new.thread_id) == ("C1:2.1", "C1:1.1")
    assert new.event_id == "slack:T1:msg:C1:2.1" and new.text == "hi"
    assert upgraded(new) is new
    edit = upgraded(MessageEdited(SLACK, "2.1", "edited", BASE_TIME))
    assert edit.message_id == "C1:2.1" and edit.thread_id is None
    console = make_message("hi", message_id="m1", thread_id="m1")
    assert upgraded(console) is console
