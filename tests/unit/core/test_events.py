"""Every event type survives a JSON round-trip; ids are stable; bad payloads raise clearly."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.events import (
    ACTION_TYPES,
    INBOUND_TYPES,
    AddReaction,
    Attachment,
    Button,
    ButtonClicked,
    ChannelDeleted,
    ChannelRef,
    ChannelSeen,
    Citation,
    CommandInvoked,
    CommandReply,
    Event,
    EventDecodeError,
    EventSource,
    MarkThreadSolved,
    MemberJoined,
    MemberLeft,
    MemberLeftChannel,
    MemberUpdated,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    Platform,
    ReactionAdded,
    ReactionRemoved,
    SendDirectMessage,
    SendEphemeral,
    SendMessage,
    ThreadCreated,
    UserRef,
    Visibility,
    WorkspaceInstalled,
    WorkspaceRef,
    WorkspaceRemoved,
    WorkspacesConnected,
    from_json,
    to_json,
)

T0 = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
CH = ChannelRef(Platform.DISCORD, "g1", "c1", "help", Visibility.PRIVATE, True, ("u1",), ("r1", "r2"))
U = UserRef(Platform.DISCORD, "g1", "u1", "Zoë 🧑‍💻", False)
CMD = CommandInvoked("guildhall config", U, CH, "i1", T0, "set x 1", (("key", "x"),), "tok", True, ("r1",), "t1")

SAMPLES: list[Event] = [
    MessagePosted(
        CH, U, "m1", "hello\u200f مرحبا \x00 `code`", T0, "t1", "m0", True, ("u2",), "https://x", "", EventSource.IMPORT
    ),
    MessageEdited(CH, "m1", "edited", T0, U, "t1"),
    MessageDeleted(CH, "m1", T0),
    ReactionAdded(CH, "m1", U, "✅", T0, "u2"),
    ReactionRemoved(CH, "m1", U, "white_check_mark", T0),
    MemberJoined(U, T0, CH),
    MemberJoined(U, T0, None),
    MemberLeft(U, T0),
    MemberLeftChannel(U, T0, CH),
    MemberUpdated(U, T0),
    ThreadCreated(CH, "t1", "How do I?", U, T0, True, EventSource.BACKFILL),
    ChannelSeen(CH, T0, ("u1", "u3")),
    ChannelDeleted(CH, T0),
    WorkspaceRemoved(WorkspaceRef(Platform.DISCORD, "g1", "Guild"), T0, "kicked"),
    WorkspaceInstalled(WorkspaceRef(Platform.SLACK, "T1", "Zoë's team"), T0, "installed through OAuth"),
    WorkspacesConnected(Platform.DISCORD, ("900000000000000001", "900000000004194305"), 4, (0, 2), T0),
    CMD,
    ButtonClicked("qa.feedback", "up", U, CH, "m9", "i2", T0, "tok"),
    SendMessage(
        CH,
        "answer",
        "t1",
        (Attachment("chart.png", "image/png", b"\x89PNG\r\n\x00\xff"),),
        (Citation(1, "thread", "https://x/1", "snip", "from 2019"),),
        (Button("qa.feedback", "👍", "up", "primary"),),
        "m1",
    ),
    SendDirectMessage(U, "digest", citations=(Citation(1, "t", "u"),)),
    SendEphemeral(CH, U, "only you", "tok"),
    CommandReply(CMD, "done", False),
    AddReaction(CH, "m1", "eyes"),
    MarkThreadSolved(CH, "t1", "m2"),
]


def test_samples_cover_every_event_type() -> None:
    assert {type(e) for e in SAMPLES} == set(INBOUND_TYPES) | set(ACTION_TYPES)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_json_round_trip_is_lossless(event: Event) -> None:
    wire = to_json(event)
    back = from_json(wire)
    assert back == event
    assert type(back) is type(event)
    assert back.event_id == event.event_id
    json.loads(wire)  # valid JSON


def test_event_id_is_stable_and_scoped() -> None:
    a = SAMPLES[0]
    assert isinstance(a, MessagePosted)
    same = MessagePosted(a.channel, a.author, "m1", "different text", T0)
    assert same.event_id == a.event_id == "discord:g1:msg:m1"
    other_ws = MessagePosted(ChannelRef(Platform.DISCORD, "g2", "c1"), U, "m1", "x", T0)
    assert other_ws.event_id != a.event_id


def test_events_are_frozen_and_slotted() -> None:
    msg = SAMPLES[0]
    with pytest.raises(AttributeError):
        msg.text = "changed"  # type: ignore[misc]
    assert not hasattr(msg, "__dict__")


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        "[1, 2]",
        '{"type": "NoSuchEvent"}',
        '{"no": "type"}',
        '{"type": "MessagePosted", "text": 5}',
        '{"type": "MessageDeleted", "channel": {"platform": "myspace", "workspace_id": "w", "channel_id": "c"}, "message_id": "1"}',
        '{"type": "MessageDeleted", "channel": {"platform": "slack", "workspace_id": "w", "channel_id": "c"}, "message_id": "1", "deleted_at": 7}',
        '{"type": "InboundEvent"}',  # abstract bases are registered, but are not events to decode
        '{"type": "Action"}',
        '{"type": "Event"}',
        b'{"type": "MessagePosted", "text": "\xff"}',  # not UTF-8
        "[" * 100_000 + "]" * 100_000,  # nesting past the recursion limit
    ],
)
def test_malformed_payloads_raise_decode_error(payload: str | bytes) -> None:
    with pytest.raises(EventDecodeError):
        from_json(payload)


@pytest.mark.parametrize("cls", [UserRef, MessagePosted, MessageEdited, ReactionAdded])
def test_fast_init_builds_what_the_dataclass_init_builds(cls: type[Any]) -> None:
    original = cls.__init__.__wrapped__  # the dataclass-generated __init__ that _fast_init replaced
    samples = [e for e in [*SAMPLES, U] if type(e) is cls]
    assert samples
    for sample in samples:
        values = [getattr(sample, f.name) for f in dataclasses.fields(sample)]
        names = [f.name for f in dataclasses.fields(sample)]
        required = [f.name for f in dataclasses.fields(sample) if f.default is dataclasses.MISSING]
        for args, kwargs in [
            (values, {}),  # every field positionally
            ([], dict(zip(names, values, strict=True))),  # every field by keyword
            ([getattr(sample, n) for n in required], {}),  # defaults and default factories
        ]:
            expected = cls.__new__(cls)
            original(expected, *args, **kwargs)
            built = cls(*args, **kwargs)
            if args and len(args) < len(values) and cls is ReactionAdded:
                # ReactionAdded's ts default is a clock reading: only the other fields can match.
                assert dataclasses.replace(built, ts=expected.ts) == expected
            else:
                assert built == expected
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(built, names[0], values[0])
    with pytest.raises(TypeError):
        cls()
    with pytest.raises(TypeError):
        cls(*[None] * 20)


def test_a_second_join_after_leaving_is_not_a_duplicate_but_a_redelivery_is() -> None:
    first = MemberJoined(U, T0)
    assert MemberJoined(U, T0).event_id == first.event_id  # the same fact redelivered
    assert MemberJoined(U, T0 + timedelta(days=3)).event_id != first.event_id  # came back later
