"""Marking an archived thread or forum post solved, through discord.py's real ``HTTPClient.request``.

Discord refuses tags and reactions in an archived thread (400, code 50083 "Thread is archived").
The fake transport below keeps each thread's archived state and answers as Discord does, so what
is checked is what the thread looks like on Discord afterwards.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote

import pytest

from bot.events import ChannelRef, MarkThreadSolved, Platform, Visibility
from tests.unit.adapters.discord.fakes import (
    ALICE_ID,
    FORUM_ID,
    GENERAL_ID,
    GUILD_ID,
    SOLVED_TAG_ID,
    FakeSession,
    TransportResponse,
    feed,
    next_id,
    thread_payload,
    use_transport,
)
from tests.unit.adapters.discord.harness import Env, drain

FORUM = ChannelRef(Platform.DISCORD, GUILD_ID, FORUM_ID, "help", Visibility.PUBLIC, is_forum=True)
GENERAL = ChannelRef(Platform.DISCORD, GUILD_ID, GENERAL_ID, "general", Visibility.PUBLIC)
CHECK = "\u2705"


class ThreadServer(FakeSession):
    """Discord's channel routes for a few threads: GET and PATCH ``/channels/{id}``, and reactions.

    An archived thread accepts only ``archived: false`` (refused with 403 50013 while it is locked
    and the bot lacks Manage Threads); any other edit or a reaction gets 400 50083, as on Discord.
    """

    def __init__(self) -> None:
        super().__init__()
        self.threads: dict[str, dict[str, Any]] = {}
        self.reactions: list[tuple[str, str, str]] = []  # (thread id, message id, emoji)
        self.edits: list[tuple[str, dict[str, Any]]] = []  # accepted PATCH bodies, in order
        self.manage_threads = True

    def add(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.threads[payload["id"]] = payload
        return payload

    def _response(self, method: str, url: str, body: Any) -> TransportResponse:
        parts = url.split("/channels/", 1)[1].split("/") if "/channels/" in url else []
        thread = self.threads.get(parts[0]) if parts else None
        if thread is None:
            return super()._response(method, url, body)
        meta = thread["thread_metadata"]
        if method == "GET" and len(parts) == 1:
            return TransportResponse(200, thread)
        if method == "PATCH" and len(parts) == 1:
            if meta["archived"] and body != {"archived": False}:
                return _archived()
            if meta["archived"] and meta["locked"] and not self.manage_threads:
                return TransportResponse(403, {"message": "Missing Permissions", "code": 50013})
            self.edits.append((thread["id"], body))
            if "archived" in body:
                meta["archived"] = body["archived"]
            if "applied_tags" in body:
                thread["applied_tags"] = body["applied_tags"]
            return TransportResponse(200, thread)
        if method == "PUT" and "reactions" in parts:
            if meta["archived"]:
                return _archived()
            self.reactions.append((parts[0], parts[2], unquote(parts[4])))
            return TransportResponse(204, None)
        return super()._response(method, url, body)


def _archived() -> TransportResponse:
    return TransportResponse(400, {"message": "Thread is archived", "code": 50083})


def _server(env: Env, monkeypatch: pytest.MonkeyPatch) -> ThreadServer:
    """Run discord.py's real request loop over a :class:`ThreadServer`."""
    use_transport(env.client, monkeypatch)
    server = ThreadServer()
    monkeypatch.setattr(env.client.http, "_HTTPClient__session", server)
    return server


def _post(*, archived: bool, locked: bool = False, parent_id: str = FORUM_ID) -> dict[str, Any]:
    payload = thread_payload(next_id(), parent_id, "Crash on start", ALICE_ID, archived=archived)
    payload["thread_metadata"]["locked"] = locked
    return payload


async def test_an_archived_forum_post_gets_the_tag_and_the_reaction_and_stays_archived(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = _server(env, monkeypatch)
    # Auto-archived: discord.py drops archived threads from its cache, so the adapter fetches it.
    post = server.add(_post(archived=True))
    answer_id = next_id()
    await env.app.bus.publish(MarkThreadSolved(FORUM, post["id"], answer_id))
    await drain(env.app)
    assert env.app.bus.stats.failed == 0
    assert post["applied_tags"] == [SOLVED_TAG_ID]
    assert server.reactions == [(post["id"], answer_id, CHECK)]
    assert post["thread_metadata"]["archived"] is True  # archived again, as it was
    assert [body for _, body in server.edits] == [
        {"archived": False},
        {"applied_tags": [SOLVED_TAG_ID]},
        {"archived": True},
    ]


async def test_an_archived_plain_thread_gets_the_reaction_and_stays_archived(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = _server(env, monkeypatch)
    thread = server.add(_post(archived=True, parent_id=GENERAL_ID))
    await env.app.bus.publish(MarkThreadSolved(GENERAL, thread["id"]))
    await drain(env.app)
    assert env.app.bus.stats.failed == 0
    assert server.reactions == [(thread["id"], thread["id"], CHECK)]
    assert thread["thread_metadata"]["archived"] is True
    assert thread["applied_tags"] == []  # not a forum post: no tag


async def test_a_post_archived_since_it_was_cached_is_learned_from_the_50083(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = _server(env, monkeypatch)
    post = server.add(_post(archived=False))
    feed(env.client, "THREAD_CREATE", {**post, "newly_created": True})
    # Archived on Discord while the gateway event saying so was missed: the cache says open.
    post["thread_metadata"] = {**post["thread_metadata"], "archived": True}
    answer_id = next_id()
    await env.app.bus.publish(MarkThreadSolved(FORUM, post["id"], answer_id))
    await drain(env.app)
    assert env.app.bus.stats.failed == 0
    assert post["applied_tags"] == [SOLVED_TAG_ID]
    assert server.reactions == [(post["id"], answer_id, CHECK)]
    assert post["thread_metadata"]["archived"] is True


async def test_a_locked_archived_post_the_bot_may_not_reopen_is_logged_not_failed(
    env: Env, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    server = _server(env, monkeypatch)
    server.manage_threads = False
    post = server.add(_post(archived=True, locked=True))
    with caplog.at_level(logging.WARNING, logger="adapters.discord"):
        await env.app.bus.publish(MarkThreadSolved(FORUM, post["id"], next_id()))
        await drain(env.app)
    assert env.app.bus.stats.failed == 0  # no redelivery can grant Manage Threads
    assert server.edits == [] and server.reactions == []
    assert post["thread_metadata"]["archived"] is True and post["thread_metadata"]["locked"] is True
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert post["id"] in warning.getMessage() and "locked" in warning.getMessage()


async def test_an_open_post_is_tagged_and_reacted_to_without_archive_edits(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = _server(env, monkeypatch)
    post = server.add(_post(archived=False))
    feed(env.client, "THREAD_CREATE", {**post, "newly_created": True})
    answer_id = next_id()
    await env.app.bus.publish(MarkThreadSolved(FORUM, post["id"], answer_id))
    await drain(env.app)
    assert env.app.bus.stats.failed == 0
    assert server.edits == [(post["id"], {"applied_tags": [SOLVED_TAG_ID]})]
    assert server.reactions == [(post["id"], answer_id, CHECK)]
    assert post["thread_metadata"]["archived"] is False
