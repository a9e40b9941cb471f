"""Slack payload -> event normalization (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest

from adapters.slack.normalize import (
    NormalizeContext,
    SlackIdentity,
    command_name,
    command_options,
    normalize_block_actions,
    normalize_command,
    normalize_event,
    normalize_message,
    parse_ts,
    permalink,
)
from bot.events import (
    ChannelRef,
    ChannelSeen,
    EventSource,
    MemberJoined,
    MemberLeft,
    MemberUpdated,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    Platform,
    ReactionAdded,
    ReactionRemoved,
    Visibility,
    from_json,
    to_json,
)
from tests.slack_fakes import BOT_ID, BOT_USER_ID, TEAM_ID, TEAM_URL, envelope, message_event, slash_form

ME = SlackIdentity(TEAM_ID, BOT_USER_ID, BOT_ID, TEAM_URL)


def ctx(**kw: Any) -> NormalizeContext:
    return NormalizeContext(ME, **kw)


def one(payload: dict[str, Any], **kw: Any) -> Any:
    events = normalize_event(envelope(payload), ctx(**kw))  # type: ignore[arg-type]
    assert len(events) == 1, events
    return events[0]


def test_plain_message_fields() -> None:
    e = one(message_event("Tom &amp; Jerry &lt;3 <@UBOB> ünï 🚀", ts="1767600000.000100"))
    assert isinstance(e, MessagePosted)
    assert e.text == "Tom & Jerry <3 <@UBOB> ünï 🚀"
    assert e.channel == ChannelRef(Platform.SLACK, TEAM_ID, "CGENERAL", "", Visibility.PUBLIC)
    assert e.author.user_id == "UALICE" and not e.author.is_bot
    assert e.message_id == "CGENERAL:1767600000.000100" and e.ts == datetime.fromtimestamp(1767600000.0001, UTC)
    assert e.thread_id is None and e.reply_to is None and not e.mentions_bot
    assert e.mentioned_user_ids == ("UBOB",)
    assert e.permalink == "https://acme.slack.com/archives/CGENERAL/p1767600000000100"
    assert e.event_id == f"slack:{TEAM_ID}:msg:CGENERAL:1767600000.000100"
    assert from_json(to_json(e)) == e


def test_thread_reply_and_root() -> None:
    reply = one(message_event("re", ts="1767600100.000200", thread_ts="1767600000.000100"))
    assert reply.thread_id == "CGENERAL:1767600000.000100" and reply.reply_to == "CGENERAL:1767600000.000100"
    assert reply.permalink.endswith("?thread_ts=1767600000.000100&cid=CGENERAL")
    root = one(message_event("root", ts="1767600000.000100", thread_ts="1767600000.000100"))
    assert root.thread_id == root.message_id and root.reply_to is None


def test_mentions_bot_by_id_or_app_mention() -> None:
    assert one(message_event(f"hey <@{BOT_USER_ID}|guildhall>")).mentions_bot
    mention = {"type": "app_mention", "user": "UALICE", "text": "hi", "ts": "1767600000.000100", "channel": "CGENERAL"}
    assert one(mention).mentions_bot
    assert one(message_event("question in my DM with the bot", channel="D1", channel_type="im")).mentions_bot
    assert not one(message_event("group DM chatter", channel="G1", channel_type="mpim")).mentions_bot


@pytest.mark.parametrize(
    ("channel_type", "channel", "expected"),
    [
        ("channel", "CGENERAL", Visibility.PUBLIC),
        ("group", "C0PRIV", Visibility.PRIVATE),
        ("im", "D123", Visibility.DM),
        ("mpim", "G456", Visibility.PRIVATE),  # a group DM is read by several members
        (None, "C0UNKNOWN", Visibility.PRIVATE),  # unknown is never assumed public
        (None, "D999", Visibility.PRIVATE),  # nor the bot's DM: a D id alone does not say whose
    ],
)
def test_visibility(channel_type: str | None, channel: str, expected: Visibility) -> None:
    payload = message_event("x", channel=channel)
    if channel_type is None:
        payload.pop("channel_type")
    else:
        payload["channel_type"] = channel_type
    ref = one(payload).channel
    assert ref.visibility is expected
    # Only the unknown ones are a guess, which the store does not write over a visibility it knows.
    assert ref.visibility_known is (channel_type is not None)


def test_known_channel_fills_missing_type() -> None:
    known = {"CPUB": ChannelRef(Platform.SLACK, TEAM_ID, "CPUB", "pub", Visibility.PUBLIC)}
    payload = message_event("x", channel="CPUB")
    payload.pop("channel_type")
    e = one(payload, channels=known)
    assert e.channel.visibility is Visibility.PUBLIC and e.channel.name == "pub"


def test_own_messages_dropped_other_bots_marked() -> None:
    assert normalize_event(envelope(message_event("me", user=BOT_USER_ID)), ctx()) == []  # type: ignore[arg-type]
    own_bot = {**message_event("me"), "subtype": "bot_message", "bot_id": BOT_ID}
    own_bot.pop("user")
    assert normalize_event(envelope(own_bot), ctx()) == []  # type: ignore[arg-type]
    other = {**message_event("ci"), "subtype": "bot_message", "bot_id": "BCI", "username": "ci"}
    other.pop("user")
    e = one(other)
    assert e.author.user_id == "BCI" and e.author.is_bot and e.is_bot and e.subtype == "bot_message"


@pytest.mark.parametrize("subtype", ["thread_broadcast", "file_share", "me_message"])
def test_content_subtypes_are_posts(subtype: str) -> None:
    e = one({**message_event("content", thread_ts="1767600000.000001"), "subtype": subtype})
    assert isinstance(e, MessagePosted) and e.subtype == subtype


@pytest.mark.parametrize(
    "subtype",
    [
        "channel_join",
        "channel_leave",
        "channel_topic",
        "pinned_item",
        "message_replied",
        "huddle_thread",
        "brand_new_subtype",
    ],
)
def test_system_subtypes_are_ignored(subtype: str) -> None:
    assert normalize_event(envelope({**message_event("x"), "subtype": subtype}), ctx()) == []  # type: ignore[arg-type]


def changed(new_text: str, *, edited: bool = True) -> dict[str, Any]:
    new: dict[str, Any] = {"type": "message", "user": "UALICE", "text": new_text, "ts": "1767600000.000100"}
    if edited:
        new["edited"] = {"user": "UALICE", "ts": "1767600050.000000"}
    return {
        "type": "message",
        "subtype": "message_changed",
        "channel": "CGENERAL",
        "channel_type": "channel",
        "ts": "1767600060.000100",
        "event_ts": "1767600060.000100",
        "message": new,
        "previous_message": {"type": "message", "user": "UALICE", "text": "old", "ts": "1767600000.000100"},
    }


def test_edit() -> None:
    e = one(changed("new &amp; better"))
    assert isinstance(e, MessageEdited)
    assert e.message_id == "CGENERAL:1767600000.000100" and e.text == "new & better"
    assert e.edited_at == datetime.fromtimestamp(1767600050, UTC)
    assert e.author is not None and e.author.user_id == "UALICE"


def test_two_edits_within_one_second_are_two_events_in_order() -> None:
    # edited.ts has whole seconds; the event's own event_ts tells the two edits apart.
    first = {**changed("first fix"), "event_ts": "1767600050.000300"}
    second = {**changed("second fix"), "event_ts": "1767600050.000900"}
    a, b = one(first), one(second)
    assert isinstance(a, MessageEdited) and isinstance(b, MessageEdited)
    assert a.event_id != b.event_id
    assert a.edited_at < b.edited_at
    assert a.edited_at == datetime.fromtimestamp(1767600050.0003, UTC)
    # A redelivery of the same edit keeps its id (the bus drops it).
    assert one(first).event_id == a.event_id


def test_unfurl_is_not_an_edit() -> None:
    payload = changed("old", edited=False)
    assert normalize_event(envelope(payload), ctx()) == []  # type: ignore[arg-type]


def test_delete() -> None:
    payload = {
        "type": "message",
        "subtype": "message_deleted",
        "channel": "CGENERAL",
        "channel_type": "channel",
        "deleted_ts": "1767600000.000100",
        "ts": "1767600070.000100",
        "event_ts": "1767600070.000100",
    }
    e = one(payload)
    assert isinstance(e, MessageDeleted) and e.message_id == "CGENERAL:1767600000.000100"


def test_reactions_and_skin_tones() -> None:
    added = {
        "type": "reaction_added",
        "user": "UALICE",
        "reaction": "+1::skin-tone-4",
        "item_user": "UBOB",
        "item": {"type": "message", "channel": "CGENERAL", "ts": "1767600000.000100"},
        "event_ts": "1767600080.000100",
    }
    e = one(added)
    assert isinstance(e, ReactionAdded) and e.emoji == "+1" and e.message_author_id == "UBOB"
    removed = one({**added, "type": "reaction_removed"})
    assert isinstance(removed, ReactionRemoved)
    on_file = {**added, "item": {"type": "file", "file": "F1"}}
    assert normalize_event(envelope(on_file), ctx()) == []  # type: ignore[arg-type]
    by_me = {**added, "user": BOT_USER_ID}
    assert normalize_event(envelope(by_me), ctx()) == []  # type: ignore[arg-type]


def test_members_joining() -> None:
    team = one({"type": "team_join", "user": {"id": "UNEW", "name": "n", "real_name": "New Person", "is_bot": False}})
    assert isinstance(team, MemberJoined) and team.channel is None and team.user.name == "New Person"
    chan = one(
        {
            "type": "member_joined_channel",
            "user": "UNEW",
            "channel": "G1",
            "channel_type": "G",
            "event_ts": "1767600000.1",
        }
    )
    assert chan.channel is not None and chan.channel.visibility is Visibility.PRIVATE


def test_a_join_events_c_type_is_not_taken_for_public() -> None:
    # "C" is the id's prefix: private channels created since March 2021 have it too.
    join = {"type": "member_joined_channel", "user": "UNEW", "channel": "C0NEWPRIV", "channel_type": "C"}
    private = {"C0NEWPRIV": ChannelRef(Platform.SLACK, TEAM_ID, "C0NEWPRIV", "staff", Visibility.PRIVATE)}
    assert one({**join, "event_ts": "1767600000.1"}, channels=private).channel.visibility is Visibility.PRIVATE
    unknown = one({**join, "event_ts": "1767600000.1"}).channel
    assert unknown.visibility is Visibility.PRIVATE and not unknown.visibility_known  # the store keeps its own
    public = {"C0NEWPRIV": ChannelRef(Platform.SLACK, TEAM_ID, "C0NEWPRIV", "pub", Visibility.PUBLIC)}
    assert one({**join, "event_ts": "1767600000.1"}, channels=public).channel.visibility is Visibility.PUBLIC


def test_a_deactivated_member_left_and_other_profile_changes_update_the_profile() -> None:
    gone = one(
        {"type": "user_change", "user": {"id": "UOLD", "name": "o", "deleted": True}, "event_ts": "1767600000.2"}
    )
    assert isinstance(gone, MemberLeft) and gone.user.user_id == "UOLD"
    moved = {"type": "user_change", "user": {"id": "U1", "real_name": "Ann", "tz": "Asia/Tokyo", "deleted": False}}
    update = one(moved)
    assert isinstance(update, MemberUpdated) and (update.user.name, update.user.tz) == ("Ann", "Asia/Tokyo")


def test_channel_created() -> None:
    e = one({"type": "channel_created", "channel": {"id": "CNEW", "name": "new", "created": 1767600000}})
    assert isinstance(e, ChannelSeen) and e.channel.name == "new"


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "message", "channel": "CGENERAL", "user": "UALICE", "text": "no ts"},
        {"type": "message", "channel": "CGENERAL", "user": "UALICE", "text": "bad ts", "ts": "yesterday"},
        {"type": "message", "channel": "CGENERAL", "user": "UALICE", "text": "nan", "ts": "nan"},
        {"type": "message", "channel": "CGENERAL", "text": "no author", "ts": "1.0"},
        {"type": "message", "user": "UALICE", "text": "no channel", "ts": "1.0"},
        {"type": "message", "subtype": "message_changed", "channel": "C1"},
        {"type": "message", "subtype": "message_deleted", "channel": "C1"},
        {"type": "reaction_added", "user": "U1"},
        {"type": "team_join", "user": "not-an-object"},
        {"type": "user_change", "user": {"deleted": True}},
        {"type": "user_change", "user": {"real_name": "no id"}},
        {"type": "user_change", "user": "UOLD"},
        {"type": "unknown_event"},
    ],
)
def test_malformed_payloads_are_dropped(payload: dict[str, Any]) -> None:
    assert normalize_event(envelope(payload), ctx()) == []  # type: ignore[arg-type]


def test_envelope_without_event() -> None:
    assert normalize_event({"type": "event_callback"}, ctx()) == []
    assert normalize_event({"event": "nope"}, ctx()) == []  # type: ignore[typeddict-item]


def test_huge_message_kept_whole() -> None:
    text = "🚀" * 40_000
    assert one(message_event(text)).text == text


def test_event_id_stable_across_retries_and_backfill() -> None:
    live = one(message_event("same", ts="1767600000.000100"))
    retry = normalize_event(envelope(message_event("same", ts="1767600000.000100"), event_id="EvOther"), ctx())[0]  # type: ignore[arg-type]
    history_item = {"type": "message", "user": "UALICE", "text": "same", "ts": "1767600000.000100"}
    known = {"CGENERAL": live.channel}
    backfilled = normalize_message(history_item, "CGENERAL", None, ctx(channels=known, source=EventSource.BACKFILL))  # type: ignore[arg-type]
    assert backfilled is not None and backfilled.source is EventSource.BACKFILL
    assert live.event_id == retry.event_id == backfilled.event_id


@pytest.mark.parametrize(
    ("command", "text", "expected"),
    [
        ("/ask", " how? ", ("ask", "how?")),
        ("/guildhall-help", "", ("help", "")),
        ("/guildhall", "index all now", ("guildhall index", "all now")),
        ("/guildhall", "CONFIG set qa.k 5", ("guildhall config", "set qa.k 5")),
        ("/guildhall", "", ("help", "")),
        ("/Forget-Me", "confirm", ("forget-me", "confirm")),
    ],
)
def test_command_names(command: str, text: str, expected: tuple[str, str]) -> None:
    assert command_name(command, text) == expected


def test_command_options_from_escaped_refs() -> None:
    assert command_options("<#C123|alerts> for <@U9|bob>") == (("channel", "C123"), ("user", "U9"))
    assert command_options("plain") == ()


def test_normalize_command() -> None:
    form = slash_form(
        "/guildhall", "alerts-channel <#CALERT|alerts>", response_url="https://hooks.slack.com/commands/x"
    )
    cmd = normalize_command(form, ctx(), is_platform_admin=True, role_ids=["S1"], now=datetime(2026, 1, 1, tzinfo=UTC))  # type: ignore[arg-type]
    assert cmd is not None
    assert cmd.name == "guildhall alerts-channel" and cmd.option("channel") == "CALERT"
    assert cmd.response_ref.startswith("https://hooks.slack.com/")
    assert cmd.is_platform_admin and cmd.role_ids == ("S1",)
    assert cmd.channel.name == "general" and cmd.channel.visibility is Visibility.PRIVATE  # not yet known
    assert cmd.event_id.endswith(form["trigger_id"])
    dm = normalize_command(cast(Any, {**form, "channel_id": "D1", "channel_name": "directmessage"}), ctx())
    # Not known to be the bot's own DM: possibly one between two members (see test_dm_scope.py).
    assert dm is not None and dm.channel.visibility is Visibility.PRIVATE and dm.channel.name == ""
    assert normalize_command(cast(Any, {**form, "user_id": ""}), ctx()) is None


def test_command_text_is_unescaped_like_message_text() -> None:
    """Slack escapes &, < and > in command text: a member's `a < b && c` is what brains read."""
    form = slash_form("/ask", "why is a &lt; b &amp;&amp; c in <#C1|general>?")
    cmd = normalize_command(form, ctx())  # type: ignore[arg-type]
    assert cmd is not None and cmd.text == "why is a < b && c in <#C1|general>?" and cmd.option("channel") == "C1"


def test_block_actions() -> None:
    body = {
        "type": "block_actions",
        "user": {"id": "UALICE", "username": "alice"},
        "container": {"message_ts": "1.2", "channel_id": "CGENERAL"},
        "trigger_id": "t1",
        "actions": [{"action_id": "a", "value": "v", "action_ts": "1767600000.5"}, {"no": "action_id"}],
    }
    [click] = normalize_block_actions(body, ctx())
    assert (click.action_id, click.value, click.message_id, click.channel.channel_id) == (
        "a",
        "v",
        "CGENERAL:1.2",
        "CGENERAL",
    )
    assert normalize_block_actions({"actions": []}, ctx()) == []


def test_helpers() -> None:
    assert parse_ts("1e40") is None and parse_ts(None) is None and parse_ts(-1) is None
    assert permalink("", "C1", "1.2") == ""


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ts", 1767600000.0001),  # a number where Slack sends a string
        ("subtype", ["bot_message"]),
        ("subtype", {"a": 1}),
        ("user", 1),
        ("channel", 5),
        ("thread_ts", {"ts": "1"}),
        ("text", ["hello"]),
        ("type", ["message"]),
    ],
)
def test_a_field_of_the_wrong_type_skips_the_event_with_a_warning(
    field: str, value: Any, caplog: pytest.LogCaptureFixture
) -> None:
    payload = message_event("hello", ts="1767600000.000100")
    payload[field] = value
    assert normalize_event(envelope(payload), ctx()) == []  # type: ignore[arg-type]
    assert field == "type" or "skipping" in caplog.text


@pytest.mark.parametrize("subtype", ["message_changed", "message_deleted"])
@pytest.mark.parametrize("inner", [None, 1, "x", ["a"], {"ts": 5, "text": ["t"], "edited": "no", "user": 2}])
def test_malformed_edits_and_deletes_are_skipped_not_raised(subtype: str, inner: Any) -> None:
    payload = {"type": "message", "subtype": subtype, "channel": "CGENERAL", "message": inner}
    payload["previous_message"] = inner
    payload["deleted_ts"] = inner
    events = normalize_event(envelope(payload), ctx())  # type: ignore[arg-type]
    assert all(isinstance(getattr(e, "message_id", ""), str) for e in events)


def test_slash_command_fields_of_the_wrong_type() -> None:
    assert normalize_command(cast(Any, slash_form("/ask", "x") | {"user_id": 5}), ctx()) is None
    assert normalize_command(cast(Any, slash_form("/ask", "x") | {"command": 7}), ctx()) is None
    cmd = normalize_command(cast(Any, slash_form("/guildhall", "x") | {"text": None}), ctx())
    assert cmd is not None and cmd.name == "help"
    bad_actions = {"user": {"id": "U1"}, "channel": {"id": "C1"}, "container": ["x"], "actions": [{"action_id": "a"}]}
    assert normalize_block_actions(bad_actions, ctx()) == []
