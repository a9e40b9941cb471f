"""The privacy gate: inbound message text is redacted before any subscriber sees it (and made valid
Unicode: :mod:`bot.valid_text`).

It wraps whichever bus is configured, so the store, the index, the profiles and the LLM prompt all
receive the same masked text, and no brain can forget to redact.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from bot.bus import BatchHandler, EventBus, Handler
from bot.events import (
    CommandInvoked,
    Event,
    MemberJoined,
    MemberLeft,
    MemberLeftChannel,
    MessageEdited,
    MessagePosted,
    ThreadCreated,
)
from bot.privacy.forgotten import ForgottenMembers, author_of
from bot.privacy.redact import Redactor
from bot.valid_text import with_valid_text

ADMIN_COMMAND_PREFIX = "guildhall"  # `/guildhall config set ...`: settings, left as typed


class RedactingBus:
    """An :class:`~bot.bus.EventBus` that masks secrets and personal data in inbound message text,
    drops messages, edits and reactions of members who asked to be forgotten, and carries a Discord
    member's opt-out to a workspace where they act for the first time (before anyone reads it)."""

    def __init__(self, inner: EventBus, redactor: Redactor, forgotten: ForgottenMembers | None = None) -> None:
        self.inner = inner
        self._redactor = redactor
        self.forgotten = forgotten or ForgottenMembers()

    def __getattr__(self, name: str) -> object:
        # stats, dead_letters, buffered... of the wrapped bus stay reachable.
        return getattr(self.inner, name)

    def subscribe(self, event_type: type[Event], handler: Handler, *, name: str, concurrency: int = 1) -> None:
        """Delegate."""
        self.inner.subscribe(event_type, handler, name=name, concurrency=concurrency)

    def subscribe_batch(
        self, event_types: tuple[type[Event], ...], handler: BatchHandler, *, name: str, max_batch: int = 500
    ) -> None:
        """Delegate."""
        self.inner.subscribe_batch(event_types, handler, name=name, max_batch=max_batch)

    def _admit(self, event: Event) -> Event | None:
        """``event`` with its text redacted, or None when its author asked to be forgotten."""
        author = author_of(event)
        if author is not None and author in self.forgotten:
            return None
        event = _valid(event)
        if isinstance(event, (MessagePosted, MessageEdited)):
            masked = self._redactor.redact(event.text)
            if masked != event.text:
                event = dataclasses.replace(event, text=masked)
        return self._scrub(event)

    def _scrub(self, event: Event) -> Event:
        """Thread titles and members' command text redacted like message text; a forgotten
        member's name and time zone left out of joins and leaves (a join still updates access lists)."""
        if isinstance(event, CommandInvoked) and not event.name.startswith(ADMIN_COMMAND_PREFIX):
            # `/ask password=... for bob@example.com` is stored with the answer and put in the
            # prompt like a mention is. Admin commands carry settings (ids, paths), not chat.
            text = self._redactor.redact(event.text)
            options = tuple((key, self._redactor.redact(value)) for key, value in event.options)
            if text != event.text or options != event.options:
                event = dataclasses.replace(event, text=text, options=options)
        elif isinstance(event, ThreadCreated):
            title = self._redactor.redact(event.title)
            if title != event.title:
                event = dataclasses.replace(event, title=title)
        elif (
            isinstance(event, (MemberJoined, MemberLeft, MemberLeftChannel))
            and (event.user.name or event.user.tz)
            and event.user in self.forgotten
        ):
            # The time zone too: it is personal data the erasure cleared (``users.tz``), and the
            # event itself is kept on the bus (Redis streams, the dead-letter stream, the journal).
            event = dataclasses.replace(event, user=dataclasses.replace(event.user, name="", tz=""))
        return event

    async def publish(self, event: Event) -> bool:
        """Redact message text, then publish; returns False when the event was dropped."""
        admitted = self._admit(event)
        if admitted is None:
            return False
        await self.forgotten.opt_outs.follow((author_of(admitted),))
        return await self.inner.publish(admitted)

    async def publish_many(self, events: Sequence[Event]) -> int:
        """:meth:`publish` for many events: filtered and redacted here, then handed on in one call."""
        forgotten = self.forgotten
        admitted = [
            self._scrub(e)
            if isinstance(e, (ThreadCreated, MemberJoined, MemberLeft, MemberLeftChannel, CommandInvoked))
            else e
            for e in map(_valid, events)
            if (author := author_of(e)) is None or author not in forgotten
        ]
        texts = [(i, e.text) for i, e in enumerate(admitted) if isinstance(e, (MessagePosted, MessageEdited))]
        # One screening pass over the whole batch (an import's day file) instead of one per message.
        masked = self._redactor.redact_many([text for _, text in texts])
        for (i, text), new_text in zip(texts, masked, strict=True):
            if new_text is not text and new_text != text:
                admitted[i] = dataclasses.replace(admitted[i], text=new_text)  # type: ignore[type-var]
        await self.forgotten.opt_outs.follow(map(author_of, admitted))
        return await self.inner.publish_many(admitted)

    async def start(self) -> None:
        """Delegate."""
        await self.inner.start()

    async def drain(self) -> None:
        """Delegate."""
        await self.inner.drain()

    async def close(self) -> None:
        """Delegate."""
        await self.inner.close()


def _valid(event: Event) -> Event:
    """``event`` as valid Unicode (:func:`bot.valid_text.with_valid_text`). A message whose strings
    are all ASCII, most of an import, skips the walk over every field: it cost an import of 100,000
    messages about a third of its speed."""
    if isinstance(event, (MessagePosted, MessageEdited)) and _all_ascii(event):
        return event
    return with_valid_text(event)


def _all_ascii(event: MessagePosted | MessageEdited) -> bool:
    """Whether every string in ``event`` is ASCII: the text and the author's name, and also the ids
    (message, channel, workspace, user, thread) that key the stored rows. An id with half an emoji
    (``C\\ud83d1`` from a bad export) passed when only the text was checked, and every message of
    its channel was lost where SQLite could not encode it. ``str.isascii`` is O(1) on CPython."""
    channel, author = event.channel, event.author
    # The text may be long: checked on its own, not copied into the join below.
    if not event.text.isascii():
        return False
    parts = [
        event.message_id,
        event.thread_id or "",
        channel.workspace_id,
        channel.channel_id,
        channel.name,
        channel.parent_id or "",
        *channel.allowed_user_ids,
        *channel.allowed_role_ids,
        *channel.denied_user_ids,
        *channel.denied_role_ids,
        *channel.override_role_ids,
    ]
    if author is not None:
        parts += (author.workspace_id, author.user_id, author.name, author.tz)
    if isinstance(event, MessagePosted):
        parts += (
            event.reply_to or "",
            event.permalink,
            event.subtype,
            *event.mentioned_user_ids,
            *event.author_role_ids,
        )
    return "".join(parts).isascii()
