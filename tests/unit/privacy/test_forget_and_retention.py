"""Forgotten members stay forgotten through re-imports; retention purges old messages."""

from __future__ import annotations

import dataclasses
import os
from datetime import timedelta

import pytest

from bot.clock import FakeClock
from bot.events import EventSource
from bot.testing import command, make_message
from bot.testing.builders import BASE_TIME


async def test_reimport_after_forget_me_does_not_bring_text_back(make_app) -> None:
    app, adapter = await make_app()
    old = make_message("ana's old message", author="ana", message_id="h1", source=EventSource.IMPORT)
    await adapter.inject(old)
    await adapter.inject(command("forget-me", "confirm", author="ana"))
    await app.bus.drain()
    # A re-import publishes the same history again (a new bus dedupe window, e.g. another process).
    again = make_message("ana's old message", author="ana", message_id="h2", source=EventSource.IMPORT)
    assert await app.bus.publish(again) is False
    await app.bus.drain()
    assert await app.store.get_message("console", "local", "h2") is None
    rows = await app.store.db.fetchall("SELECT COUNT(*) FROM messages WHERE text LIKE ?", ("%ana's old%",))
    assert rows[0][0] == 0


async def test_retention_purges_old_messages(make_app, settings) -> None:
    settings = settings.model_copy(update={"privacy": settings.privacy.model_copy(update={"retention_days": 30})})
    clock = FakeClock(BASE_TIME + timedelta(days=45))
    app, adapter = await make_app(settings_override=settings, clock=clock)
    await adapter.inject(make_message("ancient", message_id="old1"))
    await adapter.inject(make_message("recent", message_id="new1", ts=BASE_TIME + timedelta(days=40)))
    await app.bus.drain()
    counts = await app.brain("core").purge_expired()  # type: ignore[attr-defined]
    assert counts["messages"] == 1
    assert await app.store.get_message("console", "local", "old1") is None
    assert await app.store.get_message("console", "local", "new1") is not None
    assert "core.retention" in app.scheduler.job_names


async def test_retention_takes_old_text_out_of_the_qa_index_too(make_app, settings) -> None:
    from brain.qa.access import AccessScope

    settings = settings.model_copy(update={"privacy": settings.privacy.model_copy(update={"retention_days": 30})})
    clock = FakeClock(BASE_TIME + timedelta(days=45))
    app, adapter = await make_app(brains=["qa"], settings_override=settings, clock=clock)
    await adapter.inject(make_message("the staging password rotates on mondays", message_id="old1"))
    await adapter.inject(
        make_message("staging deploys need a green pipeline", message_id="new1", ts=BASE_TIME + timedelta(days=40))
    )
    await app.bus.drain()
    qa = app.brain("qa")
    retriever = await qa.retriever()

    async def found() -> list[str]:
        return [s.unit.text for s in await retriever.search("staging password", AccessScope("console", "local"), k=5)]

    assert any("password" in text for text in await found())
    counts = await app.brain("core").purge_expired()  # type: ignore[attr-defined]
    assert counts["messages"] == 1 and counts["qa"] >= 1
    texts = await found()
    assert texts and all("password" not in text for text in texts)  # the recent message is still found


async def test_an_admin_set_retention_applies_to_that_workspace_only(make_app, settings) -> None:
    from bot.testing import channel, user

    clock = FakeClock(BASE_TIME + timedelta(days=45))
    app, adapter = await make_app(settings_override=settings, clock=clock)
    assert await app.brain("core").purge_expired() == {}  # type: ignore[attr-defined]  # no policy anywhere
    await adapter.inject(command("guildhall config", "set retention_days 30", admin=True))
    await adapter.inject(make_message("ancient", message_id="old1"))
    other = channel("general", workspace="other")
    await adapter.inject(
        make_message("ancient elsewhere", author=user("bo", workspace="other"), chan=other, message_id="old2")
    )
    await app.bus.drain()
    counts = await app.brain("core").purge_expired()  # type: ignore[attr-defined]
    assert counts["messages"] == 1
    assert await app.store.get_message("console", "local", "old1") is None
    assert await app.store.get_message("console", "other", "old2") is not None


async def test_thread_titles_are_the_authors_words_forgotten_redacted_and_purged(make_app, settings) -> None:
    from bot.events import MemberJoined, ThreadCreated
    from bot.testing import channel, user

    ana, help_ = user("ana"), channel("help")
    app, adapter = await make_app()
    titled = ThreadCreated(help_, "t1", "zebrafish plan, mail ana@example.com", ana, BASE_TIME)
    await adapter.inject(titled)
    await adapter.inject(make_message("details inside", author="ana", chan=help_, message_id="t1", thread_id="t1"))
    await app.bus.drain()
    title = "SELECT title FROM threads WHERE thread_id = 't1'"
    assert await app.store.db.fetchall(title) == [("zebrafish plan, mail [redacted:email]",)]

    await adapter.inject(command("forget-me", "confirm", author="ana"))
    await app.bus.drain()
    assert await app.store.db.fetchall(title) == [("",)]
    # A re-import brings neither the title nor the member's name back.
    assert await app.bus.publish(dataclasses.replace(titled, thread_id="t2")) is False
    await app.bus.publish(MemberJoined(user("ana"), BASE_TIME))
    await app.bus.drain()
    assert await app.store.db.fetchall("SELECT thread_id FROM threads WHERE thread_id = 't2'") == []
    assert await app.store.db.fetchall("SELECT name FROM users WHERE user_id = 'ana'") == [("",)]


async def test_retention_also_drops_old_threads_feedback_and_shown_recommendations(make_app, settings) -> None:
    settings = settings.model_copy(update={"privacy": settings.privacy.model_copy(update={"retention_days": 30})})
    app, adapter = await make_app(
        brains=["recommend"], settings_override=settings, clock=FakeClock(BASE_TIME + timedelta(days=45))
    )
    await adapter.inject(make_message("old root", message_id="r1", thread_id="r1"))
    await app.bus.drain()
    old = BASE_TIME.timestamp()
    await app.store.record_feedback("console", "local", "bo", "qa", "msg:r1", "up", ts=old)
    await app.store.db.execute(
        "INSERT INTO recommend_shown (platform, workspace_id, user_id, thread_id, channel_id, shown_ts) "
        "VALUES ('console', 'local', 'bo', 'r1', 'general', ?)",
        (old,),
    )
    counts = await app.brain("core").purge_expired()  # type: ignore[attr-defined]
    assert counts["threads"] == 1 and counts["feedback"] == 1 and counts["recommend"] == 1
    for table in ("threads", "feedback", "recommend_shown"):
        assert await app.store.db.fetchall(f"SELECT COUNT(*) FROM {table}") == [(0,)]


async def test_a_member_forgotten_by_another_process_is_dropped_within_a_minute(make_app) -> None:
    clock = FakeClock(BASE_TIME)
    app, adapter = await make_app(clock=clock)
    # What `guildhall privacy forget --user ana --yes` (a separate process) leaves in the shared store.
    await app.store.set_member_setting("console", "local", "ana", "forgotten", True)
    await clock.advance(timedelta(minutes=1, seconds=1))
    await adapter.inject(make_message("ana posts after being forgotten", author="ana", message_id="late1"))
    await app.bus.drain()
    assert await app.store.get_message("console", "local", "late1") is None


async def test_one_brains_failed_erasure_leaves_the_others_and_says_so(make_app) -> None:
    from bot.brain import Brain
    from bot.events import CommandReply, UserRef

    class Broken(Brain):
        name = "broken"

        async def forget_member(self, user: UserRef) -> dict[str, int]:
            raise RuntimeError("disk on fire")

    app, adapter = await make_app(brains=["activity"], extra_brains=[Broken])
    await adapter.inject(make_message("ana's words", author="ana", message_id="a1"))
    await app.bus.drain()
    await adapter.inject(command("forget-me", "confirm", author="ana"))
    await app.bus.drain()
    reply = adapter.of_type(CommandReply)[-1].text
    assert reply.startswith("Done:") and "Part of the erasure failed (broken)" in reply
    assert await app.store.db.fetchall("SELECT text FROM messages WHERE message_id = 'a1'") == [("",)]
    assert await app.store.get_member_setting("console", "local", "ana", "forgotten") is True


async def test_an_event_already_on_the_bus_when_the_member_is_forgotten_is_not_handled(make_app) -> None:
    app, adapter = await make_app(brains=["qa", "activity"])
    await adapter.inject(make_message("ana explains the deploy procedure in detail", author="ana", message_id="a1"))
    await adapter.inject(command("forget-me", "confirm", author="ana"))
    await app.bus.drain()
    # Admitted by the gate before the forget (a queue, a redelivery, a dead-letter replay), delivered now.
    late = make_message("ana's late secret: the vault combination is 4711", author="ana", message_id="a2")
    await app.bus.inner.publish(late)  # type: ignore[attr-defined]
    await app.bus.drain()
    rows = await app.store.db.fetchall("SELECT text FROM messages WHERE author_id = 'ana'")
    assert all("4711" not in r[0] for r in rows), rows
    rollup = await app.store.db.fetchall("SELECT messages FROM activity_rollup WHERE user_id = 'ana'")
    assert not rollup or all(r[0] == 0 for r in rollup), rollup


async def test_recommendations_drop_a_member_who_opts_out_at_once(make_app) -> None:
    from bot.events import CommandReply

    clock = FakeClock(BASE_TIME + timedelta(hours=2))
    app, adapter = await make_app(brains=["qa", "recommend"], clock=clock)
    ana = "ana asks: how do we rotate the zebrafish vault key safely?"
    await adapter.inject(make_message(ana, author="ana", message_id="a1", thread_id="a1"))
    await adapter.inject(
        make_message("good zebrafish question", author="bo", message_id="b1", thread_id="a1", minutes=3)
    )
    await adapter.inject(make_message("carl posts about lunch plans today", author="carl", message_id="c1", minutes=10))
    await app.bus.drain()

    async def recommended_to_carl() -> str:
        await adapter.inject(command("recommend", author="carl"))
        await app.bus.drain()
        reply = adapter.of_type(CommandReply)[-1]
        return reply.text + " ".join(f"{c.title} {c.snippet}" for c in reply.citations)

    assert "vault key" in await recommended_to_carl()
    await adapter.inject(command("optout", author="ana"))  # the cached snapshot still holds her words
    await app.bus.drain()
    await clock.advance(timedelta(minutes=2))
    assert "vault key" not in await recommended_to_carl()


async def test_forget_me_erases_the_member_from_an_earlier_encoders_collections(make_app, settings, tmp_path) -> None:
    from pathlib import Path

    from bot.events import Platform, UserRef
    from brain.qa.vector_index import open_chroma_client

    models = {}
    for name in ("tuned_a", "tuned_b"):  # two encoder folders: only path, size and mtime are fingerprinted
        folder = Path(tmp_path) / name
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(name.encode())
        models[name] = str(folder)

    def on(model: str):  # type: ignore[no-untyped-def]
        return settings.model_copy(update={"embeddings": settings.embeddings.model_copy(update={"model": model})})

    app, adapter = await make_app(brains=["qa"], settings_override=on(models["tuned_a"]))
    await adapter.inject(make_message("ana: the vault combination is 4711", author="ana", message_id="a1"))
    await adapter.inject(make_message("bob: lunch is at noon today", author="bob", message_id="b1", minutes=90))
    await app.bus.drain()
    await app.brain("qa").retriever()  # indexed under tuned_a
    await app.stop()
    app2, _ = await make_app(brains=["qa"], settings_override=on(models["tuned_b"]))  # the admin switched encoders
    await (await app2.brain("qa").indexer(rebuilding=True)).index_all()
    erasure = await app2.brain("core").forget(UserRef(Platform.CONSOLE, "local", "ana", "ana"))
    assert erasure.counts["qa.other_encoder_units"] == 1
    client = open_chroma_client(settings.vectors)
    texts = [t for c in client.list_collections() for t in client.get_collection(c.name).get()["documents"]]
    assert any("lunch" in t for t in texts) and not any("4711" in t for t in texts)


@pytest.mark.skipif(
    os.environ.get("GUILDHALL_TEST_STORE") == "postgresql",
    reason="the two apps must share one store; under PostgreSQL make_app gives each its own database",
)
async def test_a_running_bot_applies_a_forget_made_by_another_process_within_a_minute(
    make_app, settings, tmp_path
) -> None:
    from bot.events import Platform, UserRef
    from brain.qa.access import AccessScope

    shared = settings.model_copy(
        update={"store": settings.store.model_copy(update={"url": f"sqlite:///{tmp_path}/g.db"})}
    )
    clock = FakeClock(BASE_TIME + timedelta(hours=1))
    bot, adapter = await make_app(brains=["qa"], settings_override=shared, clock=clock)
    await adapter.inject(
        make_message("the zebrafish password rotation is done by ana", author="ana", message_id="a1", thread_id="a1")
    )
    await adapter.inject(
        make_message("zebrafish rotation noted, thanks", author="bo", message_id="b1", thread_id="a1", minutes=1)
    )
    await bot.bus.drain()
    retriever = await bot.brain("qa").retriever()

    async def lexical() -> list[str]:
        return [
            s.unit.text
            for s in await retriever.search(
                "zebrafish password rotation", AccessScope("console", "local"), k=5, mode="bm25"
            )
        ]

    assert any("done by ana" in t for t in await lexical())
    # `guildhall privacy forget --user ana --yes`: another process on the same store and index.
    cli, _ = await make_app(brains=["qa"], settings_override=shared)
    await cli.brain("core").forget(UserRef(Platform.CONSOLE, "local", "ana", "ana"))
    await cli.stop()
    assert any("done by ana" in t for t in await lexical())  # the running bot's memory, until it learns
    await clock.advance(timedelta(minutes=1, seconds=1))  # its forgotten-members refresh
    await bot.bus.drain()
    texts = await lexical()
    assert texts and not any("done by ana" in t for t in texts)
    audits = await bot.store.db.fetchall("SELECT COUNT(*) FROM audit_log WHERE action = 'forget-me'")
    assert audits == [(1,)]  # audited once, by the process that did it


@pytest.mark.skipif(
    os.environ.get("GUILDHALL_TEST_STORE") == "postgresql",
    reason="the two apps must share one store; under PostgreSQL make_app gives each its own database",
)
async def test_a_forget_whose_index_part_never_ran_finishes_when_the_index_next_opens(
    make_app, settings, tmp_path
) -> None:
    from brain.qa.access import AccessScope

    shared = settings.model_copy(
        update={"store": settings.store.model_copy(update={"url": f"sqlite:///{tmp_path}/g.db"})}
    )
    app, adapter = await make_app(brains=["qa"], settings_override=shared)
    await adapter.inject(make_message("the zebrafish vault code is 4711, says ana", author="ana", message_id="a1"))
    await app.bus.drain()
    await app.brain("qa").retriever()  # indexed
    # The store part of a forget ran; the index part did not (the Chroma server was down, then the
    # process stopped with the rebuild pending).
    await app.store.db.execute("UPDATE messages SET text = '', deleted = 1 WHERE author_id = 'ana'")
    await app.store.set_member_setting("console", "local", "ana", "forgotten", True)
    await app.stop()
    again, _ = await make_app(brains=["qa"], settings_override=shared)
    retriever = await again.brain("qa").retriever()
    found = await retriever.search("zebrafish vault code", AccessScope("console", "local"), k=5)
    assert all("4711" not in s.unit.text for s in found)


async def test_retention_purges_questions_asked_where_no_message_is_stored(make_app, settings) -> None:
    from bot.events import Platform, Visibility
    from bot.testing import channel, user

    settings = settings.model_copy(update={"privacy": settings.privacy.model_copy(update={"retention_days": 30})})
    clock = FakeClock(BASE_TIME)
    app, adapter = await make_app(brains=["qa"], settings_override=settings, clock=clock)
    # `/ask` in a DM with the bot on Discord (workspace `@me`): a command, never a stored message.
    dm = channel("960000000000000001", platform=Platform.DISCORD, workspace="@me", visibility=Visibility.DM)
    ana = user("ana", platform=Platform.DISCORD, workspace="@me")
    await adapter.inject(command("ask", "what is my zebrafish vault code 4711 for?", author=ana, chan=dm))
    await app.bus.drain()
    asked = "SELECT COUNT(*) FROM qa_answers WHERE question LIKE '%4711%'"
    assert await app.store.db.fetchall(asked) == [(1,)]
    await clock.advance(timedelta(days=45))
    await app.brain("core").purge_expired()  # type: ignore[attr-defined]
    assert await app.store.db.fetchall(asked) == [(0,)]


async def test_retention_purges_recommendations_shown_where_no_message_is_left(make_app, settings) -> None:
    settings = settings.model_copy(update={"privacy": settings.privacy.model_copy(update={"retention_days": 30})})
    clock = FakeClock(BASE_TIME)
    app, _ = await make_app(brains=["recommend"], settings_override=settings, clock=clock)
    # A workspace whose messages have all expired (or were never stored here) still holds what the
    # digest showed and what was clicked: rows naming members and threads.
    old = BASE_TIME.timestamp()
    await app.store.db.execute(
        "INSERT INTO recommend_shown (platform, workspace_id, user_id, thread_id, channel_id, shown_ts) "
        "VALUES ('console', 'gone', 'ana', 't1', 'c1', ?)",
        (old,),
    )
    await app.store.db.execute(
        "INSERT INTO recommend_feedback (platform, workspace_id, user_id, thread_id, channel_id, kind, ts) "
        "VALUES ('console', 'gone', 'ana', 't1', 'c1', 'click', ?)",
        (old,),
    )
    await clock.advance(timedelta(days=45))
    await app.brain("core").purge_expired()  # type: ignore[attr-defined]
    left = "SELECT (SELECT COUNT(*) FROM recommend_shown) + (SELECT COUNT(*) FROM recommend_feedback)"
    assert await app.store.db.fetchall(left) == [(0,)]


@pytest.mark.skipif(
    os.environ.get("GUILDHALL_TEST_STORE") == "postgresql",
    reason="the two apps must share one store; under PostgreSQL make_app gives each its own database",
)
async def test_a_bot_restarted_more_often_than_hourly_still_purges_on_start(make_app, settings, tmp_path) -> None:
    import asyncio

    shared = settings.model_copy(
        update={
            "store": settings.store.model_copy(update={"url": f"sqlite:///{tmp_path}/g.db"}),
            "privacy": settings.privacy.model_copy(update={"retention_days": 30}),
        }
    )
    start = BASE_TIME + timedelta(days=45, minutes=10)
    first, adapter = await make_app(brains=["qa"], settings_override=shared, clock=FakeClock(start))
    await adapter.inject(make_message("the zebrafish vault code is 4711", author="ana", message_id="old1"))
    await first.bus.drain()
    await first.stop()  # before its first hourly purge
    # Started again two hours later: the hourly purge missed meanwhile is made on start, not an
    # hour after it (a console session or a deploy cycle shorter than an hour never purged).
    again, _ = await make_app(brains=["qa"], settings_override=shared, clock=FakeClock(start + timedelta(hours=2)))
    query = "SELECT COUNT(*) FROM messages WHERE text LIKE '%4711%'"
    for _ in range(500):
        if await again.store.db.fetchall(query) == [(0,)]:
            break
        await asyncio.sleep(0.01)
    assert await again.store.db.fetchall(query) == [(0,)]
