"""The demo community: a hand-written history seeded into the console workspace, plus the project's
own docs for the QA index.

``bot/demo/community.json`` (format ``guildhall-demo/1``) holds members, moderators, channels and
~190 messages with threads and reactions about running Guildhall and general Python/async questions,
so a newcomer in the console can ask "how do I connect the bot to Slack?" and get a cited answer.
It is published through the bus as imported history (``EventSource.IMPORT``), exactly like a
platform export, so the recorder and every brain see it the usual way.

Seeding is idempotent twice over: message ids are stable (the bus and the store drop or merge
duplicates), and the workspace setting ``demo_seeded`` makes later starts skip it entirely.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bot
from adapters.console.normalize import (
    CONSOLE,
    WORKSPACE_ID,
    all_channels,
    console_channel,
    member,
    permalink,
)
from bot.events import ChannelSeen, EventSource, InboundEvent, MessagePosted, ReactionAdded, UserRef, Visibility

if TYPE_CHECKING:
    from bot.app import GuildhallApp

# Shipped as package data of ``bot`` (pyproject: bot = ["demo/*.json", "demo/docs/*.md"]).
DEMO_DIR = Path(bot.__file__).resolve().parent / "demo"
COMMUNITY_FILE = DEMO_DIR / "community.json"
DOCS_DIR = DEMO_DIR / "docs"
FORMAT = "guildhall-demo/1"
SEEDED_KEY = "demo_seeded"


class DemoFormatError(ValueError):
    """``community.json`` is not a valid demo community; ``str()`` names the bad entry."""


@dataclass(frozen=True, slots=True)
class DemoReaction:
    """One member's reaction to a demo message."""

    user_id: str
    emoji: str


@dataclass(frozen=True, slots=True)
class DemoMessage:
    """One message of the demo history."""

    message_id: str
    channel_id: str
    author_id: str
    ts: datetime
    text: str
    thread_id: str | None = None
    reactions: tuple[DemoReaction, ...] = ()


@dataclass(frozen=True, slots=True)
class DemoCommunity:
    """The parsed demo community."""

    members: dict[str, str]
    moderators: tuple[str, ...]
    messages: tuple[DemoMessage, ...]


@dataclass(frozen=True, slots=True)
class SeedReport:
    """What :func:`seed_demo` did."""

    skipped: bool
    messages: int = 0
    reactions: int = 0
    channels: int = 0


def demo_doc_paths() -> list[Path]:
    """The project's own docs to seed into the QA index (Markdown), sorted by name."""
    return sorted(DOCS_DIR.glob("*.md"))


def load_community(path: Path = COMMUNITY_FILE) -> DemoCommunity:
    """Read and validate a demo community file.

    Raises:
        DemoFormatError: unknown format, a message naming an unknown member/channel/thread,
            a duplicate id, or a field of the wrong type.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DemoFormatError(f"{path}: {exc}") from exc
    return parse_community(data)


def parse_community(data: Any) -> DemoCommunity:
    """Validate the decoded JSON of a demo community (see :func:`load_community`)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DemoFormatError(f"expected an object with format {FORMAT!r}")
    try:
        members = {str(m["id"]).casefold(): str(m["name"]) for m in data["members"]}
        moderators = tuple(str(m).casefold() for m in data.get("moderators", ()))
        raw_messages = list(data["messages"])
    except (KeyError, TypeError) as exc:
        raise DemoFormatError(f"members/messages malformed: {exc!r}") from exc
    if not set(moderators) <= members.keys():
        raise DemoFormatError(f"unknown moderator(s) {sorted(set(moderators) - members.keys())}")
    channel_ids = {c.channel_id for c in all_channels()}
    seen: set[str] = set()
    thread_roots: set[str] = set()
    messages: list[DemoMessage] = []
    for index, raw in enumerate(raw_messages):
        where = f"messages[{index}]"
        try:
            mid, channel_id, author = str(raw["id"]), str(raw["channel"]), str(raw["author"]).casefold()
            text = raw["text"]
            ts = datetime.fromisoformat(str(raw["ts"]).replace("Z", "+00:00"))
            thread = raw.get("thread")
            reactions = tuple(
                DemoReaction(str(r["user"]).casefold(), str(r["emoji"])) for r in raw.get("reactions", ())
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DemoFormatError(f"{where}: {exc!r}") from exc
        if not isinstance(text, str) or not text.strip():
            raise DemoFormatError(f"{where}: empty text")
        if ts.tzinfo is None:
            raise DemoFormatError(f"{where}: ts needs a time zone")
        if mid in seen:
            raise DemoFormatError(f"{where}: duplicate id {mid}")
        if channel_id not in channel_ids:
            raise DemoFormatError(f"{where}: unknown channel {channel_id}")
        unknown = {author, *(r.user_id for r in reactions)} - members.keys()
        if unknown:
            raise DemoFormatError(f"{where}: unknown member(s) {sorted(unknown)}")
        if thread is not None and str(thread) not in seen:
            raise DemoFormatError(f"{where}: thread {thread} must name an earlier message")
        seen.add(mid)
        if thread is not None:
            thread_roots.add(str(thread))
        messages.append(
            DemoMessage(mid, channel_id, author, ts, text, str(thread) if thread is not None else None, reactions)
        )
    # Slack's convention, which the recorder and the QA units follow: a thread root carries its
    # own id as thread id.
    messages = [
        DemoMessage(m.message_id, m.channel_id, m.author_id, m.ts, m.text, m.message_id, m.reactions)
        if m.message_id in thread_roots
        else m
        for m in messages
    ]
    return DemoCommunity(members, moderators, tuple(messages))


def time_shift(community: DemoCommunity, anchor: datetime | None) -> timedelta:
    """Whole days that move the history so its last message lies just before ``anchor``.

    Whole days keep weekdays' times of day, so the history still reads like office hours; with no
    anchor the history keeps its written dates.
    """
    if anchor is None or not community.messages:
        return timedelta(0)
    latest = max(m.ts for m in community.messages)
    days = (anchor.date() - latest.date()).days
    shift = timedelta(days=days)
    if latest + shift > anchor:
        shift -= timedelta(days=1)
    return shift


def demo_events(community: DemoCommunity, *, anchor: datetime | None = None) -> list[InboundEvent]:
    """The demo as events: ChannelSeen for every channel, then messages and reactions in time order."""
    shift = time_shift(community, anchor)
    if community.messages:
        channels_ts = min(m.ts for m in community.messages) + shift
    else:
        channels_ts = anchor or datetime(1970, 1, 1, tzinfo=UTC)
    events: list[InboundEvent] = []
    for channel in all_channels():
        members: tuple[str, ...] = ()
        if channel.visibility is not Visibility.PUBLIC:
            # The one ChannelSeen that sets #mods' access list: the moderators and the operator.
            members = tuple(sorted({*community.moderators, *channel.allowed_user_ids}))
        events.append(ChannelSeen(channel=channel, ts=channels_ts, member_ids=members, source=EventSource.IMPORT))

    def ref(user_id: str) -> UserRef:
        return member(community.members.get(user_id, user_id))

    for m in sorted(community.messages, key=lambda m: (m.ts, m.message_id)):
        channel = console_channel(m.channel_id)
        ts = m.ts + shift
        author = ref(m.author_id)
        events.append(
            MessagePosted(
                channel=channel,
                author=author,
                message_id=m.message_id,
                text=m.text,
                ts=ts,
                thread_id=m.thread_id,
                # History never summons the bot, even where it quotes "@guildhall".
                mentions_bot=False,
                permalink=permalink(channel.channel_id, m.message_id),
                source=EventSource.IMPORT,
            )
        )
        for i, r in enumerate(m.reactions):
            events.append(
                ReactionAdded(
                    channel=channel,
                    message_id=m.message_id,
                    user=ref(r.user_id),
                    emoji=r.emoji,
                    ts=ts + timedelta(minutes=1 + i),
                    message_author_id=author.user_id,
                    source=EventSource.IMPORT,
                )
            )
    return events


async def demo_seeded(app: GuildhallApp) -> bool:
    """Whether the console workspace already holds the demo community."""
    return bool(await app.store.get_workspace_setting(CONSOLE.value, WORKSPACE_ID, SEEDED_KEY))


async def seed_demo(app: GuildhallApp, *, path: Path = COMMUNITY_FILE, force: bool = False) -> SeedReport:
    """Publish the demo community once into the console workspace.

    Args:
        app: A started app (its bus delivers to the recorder and the brains).
        path: The community file.
        force: Seed even when ``demo_seeded`` is set (duplicates are still merged by id).

    Returns:
        What was published; ``skipped=True`` when the workspace was already seeded.
    """
    store = app.store
    if not force and await demo_seeded(app):
        return SeedReport(skipped=True)
    community = load_community(path)
    events = demo_events(community, anchor=app.clock.now())
    for event in events:
        await app.bus.publish(event)
    report = SeedReport(
        skipped=False,
        messages=sum(isinstance(e, MessagePosted) for e in events),
        reactions=sum(isinstance(e, ReactionAdded) for e in events),
        channels=sum(isinstance(e, ChannelSeen) for e in events),
    )
    await store.set_workspace_setting(
        CONSOLE.value, WORKSPACE_ID, SEEDED_KEY, {"messages": report.messages, "at": app.clock.now().isoformat()}
    )
    return report
