"""The daily digest of a large community: work shared across members, CPU off the event loop.

A digest tick ranks every subscribed member; what depends only on the workspace (its history
snapshot, its threads' vectors) must be computed once per tick, not once per member, and ALS fits
must not run on the event loop that carries the gateway / socket heartbeats.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

import brain.recommend.brain as recommend_brain
from bot.clock import FakeClock
from bot.events import MessagePosted, SendDirectMessage
from bot.testing.builders import BASE_TIME, make_message
from bot.testing.fake_models import HashEmbedder
from brain.recommend.brain import RecommendBrain

Factory = Callable[..., Awaitable[Any]]
MEMBERS = 30
THREADS = 24


def _community() -> list[MessagePosted]:
    """``THREADS`` threads over four channels, each with a reply, written by ``MEMBERS`` members."""
    out = []
    for n in range(THREADS):
        chan = f"chan{n % 4}"
        root = f"root{n}"
        text = f"question {n} about topic{n % 5}: how does subsystem{n} handle retries?"
        out.append(make_message(text, author=f"m{n % MEMBERS}", chan=chan, message_id=root, thread_id=root, minutes=n))
        reply = f"answer {n}: configure topic{n % 5} backoff"
        out.append(make_message(reply, author=f"m{(n * 7 + 3) % MEMBERS}", chan=chan, thread_id=root, minutes=n + 0.5))
    # Everyone else has posted once too, so every member is known and subscribed by default.
    for n in range(THREADS, MEMBERS):
        out.append(make_message(f"hello from m{n}", author=f"m{n}", chan="chan0", minutes=THREADS + n))
    return out


async def _app(make_app: Factory) -> tuple[Any, Any, RecommendBrain, HashEmbedder]:
    # 2026-01-05 (BASE_TIME) is a Monday: the digest also suggests channels.
    embedder = HashEmbedder()
    app, adapter = await make_app(
        brains=["recommend"], clock=FakeClock(BASE_TIME + timedelta(hours=10)), embedder=embedder
    )
    brain = app.brain("recommend")
    assert isinstance(brain, RecommendBrain)
    for event in _community():
        await adapter.inject(event)
    await app.bus.drain()
    await app.store.set_workspace_setting("console", "local", "digest_default_on", True)
    return app, adapter, brain, embedder


async def test_monday_digest_fits_the_channel_snapshot_once_and_off_the_loop(
    make_app: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, adapter, brain, _ = await _app(make_app)
    fits: list[str] = []
    build = recommend_brain.build_snapshot

    def counted(*args: Any, **kwargs: Any) -> Any:
        fits.append(threading.current_thread().name)
        return build(*args, **kwargs)

    monkeypatch.setattr(recommend_brain, "build_snapshot", counted)
    sent = await brain.send_due_digests()
    await app.bus.drain()
    dms = [a for a in adapter.actions if isinstance(a, SendDirectMessage)]
    assert sent == len(dms) == MEMBERS
    assert any("Channels you are not in yet" in dm.text for dm in dms)
    # One ranking snapshot and one channel-suggestion snapshot for the workspace, not one per member.
    assert len(fits) == 2
    assert threading.main_thread().name not in fits


async def test_digest_embeds_each_thread_once_not_once_per_member(make_app: Factory) -> None:
    app, _, brain, embedder = await _app(make_app)
    before = embedder.texts_embedded
    assert await brain.send_due_digests() == MEMBERS
    await app.bus.drain()
    # No QA index here: every conversation (thread or window) is embedded on the spot, but once
    # for the whole tick (it was once per member: MEMBERS times as many).
    _, snapshot, _, _ = brain._snapshots[("console", "local")]
    texts = {t.opening_text for t in snapshot.threads.values()}
    assert THREADS <= len(texts) < 2 * THREADS
    assert embedder.texts_embedded - before <= len(texts)


async def test_cached_thread_vectors_are_dropped_when_a_member_is_forgotten(make_app: Factory) -> None:
    _, _, brain, _ = await _app(make_app)
    assert await brain.send_due_digests() == MEMBERS
    assert brain._embedded and brain._channel_snapshots
    await brain.forget_member(_community()[0].author)
    assert not brain._embedded and not brain._channel_snapshots and not brain._snapshots


async def test_digest_ranks_members_off_the_event_loop(make_app: Factory, monkeypatch: pytest.MonkeyPatch) -> None:
    app, _, brain, _ = await _app(make_app)
    threads: dict[str, set[str]] = {"features": set(), "rerank": set()}
    for name in threads:
        real = getattr(recommend_brain, name)

        def recorded(*args: Any, _name: str = name, _real: Any = real, **kwargs: Any) -> Any:
            threads[_name].add(threading.current_thread().name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(recommend_brain, name, recorded)
    assert await brain.send_due_digests() == MEMBERS
    await app.bus.drain()
    # Every member's feature rows and rerank ran, none of them on the event loop's thread.
    assert threads["features"] and threads["rerank"]
    assert threading.main_thread().name not in threads["features"] | threads["rerank"]
