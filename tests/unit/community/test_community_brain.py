"""The community brain on the fake adapter, with a fake clock (no sleeps)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta

import pytest

from bot.clock import FakeClock
from bot.config import Settings
from bot.events import (
    AddReaction,
    ButtonClicked,
    ChannelRef,
    ChannelSeen,
    CommandReply,
    EventSource,
    MemberLeft,
    MessageDeleted,
    MessageEdited,
    Platform,
    ReactionAdded,
    SendEphemeral,
    SendMessage,
    ThreadCreated,
    Visibility,
)
from bot.ml import ChatMessage
from bot.testing import ScriptedLLM, channel, command, make_message, user
from bot.testing.builders import BASE_TIME
from brain.community.brain import DRAFT_ACTION, SOLVED_ACTION, HumanFirstDue

SOURCE = re.compile(r'<source n="(\d+)" channel="([^"]*)">\n(.*?)\n</source>', re.S)


def echo_first_source(messages: Sequence[ChatMessage]) -> str:
    """A model quoting the first statement of source 1 (a question is no answer: the check drops it)."""
    found = SOURCE.findall(messages[-1].content)
    lines = [line for line in found[0][2].splitlines() if line.strip() and "?" not in line] if found else []
    return f"{lines[0]} [1]" if lines else "NOT_FOUND"


HELP = channel("help")


@pytest.fixture
def community_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "qa": settings.qa.model_copy(update={"help_channel_ids": ["help"]}),
            "community": settings.community.model_copy(update={"human_first_minutes": 10.0, "max_pings_per_day": 1}),
        }
    )


async def start(make_app, settings: Settings, llm: ScriptedLLM, clock: FakeClock | None = None):
    return await make_app(
        brains=["qa", "community"], llm=llm, clock=clock or FakeClock(BASE_TIME), settings_override=settings
    )


async def post(app, adapter, *events) -> None:
    for e in events:
        await adapter.inject(e)
        await app.bus.drain()


def sent(adapter) -> list[SendMessage]:
    return list(adapter.of_type(SendMessage))


async def seed_history(app, adapter) -> None:
    """A solved thread about pinning dependencies: asked by ann, answered by bob (✅), carol replied."""
    root = make_message(
        "how do I pin a dependency version with poetry?",
        author="ann",
        chan=HELP,
        message_id="h1",
        thread_id="h1",
        minutes=-600,
    )
    ans = make_message(
        "pin it with poetry add requests==2.31.0 and commit poetry.lock",
        author="bob",
        chan=HELP,
        message_id="h2",
        thread_id="h1",
        minutes=-599,
    )
    other = make_message(
        "poetry lock --no-update also keeps versions",
        author="carol",
        chan=HELP,
        message_id="h3",
        thread_id="h1",
        minutes=-598,
    )
    await post(app, adapter, root, ans, other, ReactionAdded(HELP, "h2", user("ann"), "✅", BASE_TIME))
    qa = app.brain("qa")
    await (await qa.indexer()).index_all()


async def test_followup_without_mention_then_human_takes_over(make_app, community_settings) -> None:
    app, adapter = await start(make_app, community_settings, ScriptedLLM(echo_first_source))
    await seed_history(app, adapter)
    q = make_message(
        "@guildhall how do I pin a dependency with poetry?", author="dan", message_id="q1", mentions_bot=True
    )
    await post(app, adapter, q)
    assert len(sent(adapter)) == 1  # the QA brain answered the mention
    follow = make_message(
        "and how do I pin requests with poetry add?", author="dan", message_id="q2", thread_id="q1", minutes=1
    )
    await post(app, adapter, follow)
    answers = sent(adapter)
    assert len(answers) == 2 and answers[1].thread_id == "q1"
    # Another human replies: the bot steps back, even for the asker's next question.
    await post(
        app,
        adapter,
        make_message("you can also use pip-tools", author="erin", message_id="q3", thread_id="q1", minutes=2),
    )
    await post(
        app,
        adapter,
        make_message("what about poetry lock files?", author="dan", message_id="q4", thread_id="q1", minutes=3),
    )
    assert len(sent(adapter)) == 2


async def test_human_reply_cancels_the_pending_answer(make_app, community_settings) -> None:
    clock = FakeClock(BASE_TIME)
    llm = ScriptedLLM(echo_first_source)
    app, adapter = await start(make_app, community_settings, llm, clock)
    await seed_history(app, adapter)
    calls_before = len(llm.prompts)
    await post(
        app,
        adapter,
        make_message("how do I pin a dependency version in poetry?", author="dan", chan=HELP, message_id="p1"),
    )
    await clock.advance(timedelta(minutes=5))
    await post(
        app,
        adapter,
        make_message("use poetry add pkg==1.0", author="bob", chan=HELP, message_id="p2", thread_id="p1", minutes=5),
    )
    await clock.advance(timedelta(minutes=30))
    await app.bus.drain()
    assert sent(adapter) == [] and len(llm.prompts) == calls_before


async def test_unanswered_question_gets_a_bot_answer_after_the_wait(make_app, community_settings) -> None:
    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, community_settings, ScriptedLLM(echo_first_source), clock)
    await seed_history(app, adapter)
    await post(
        app,
        adapter,
        make_message("how do I pin a dependency version with poetry?", author="dan", chan=HELP, message_id="p1"),
    )
    await clock.advance(timedelta(minutes=9))
    await app.bus.drain()
    assert sent(adapter) == []
    await clock.advance(timedelta(minutes=2))
    await app.bus.drain()
    [answer] = sent(adapter)
    assert answer.thread_id == "p1" and "poetry" in answer.text and answer.citations
    assert any(b.action_id == SOLVED_ACTION for b in answer.buttons)


async def test_a_waiting_question_is_not_answered_after_its_asker_is_forgotten(make_app, community_settings) -> None:
    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, community_settings, ScriptedLLM(echo_first_source), clock)
    await seed_history(app, adapter)
    question = make_message("how do I pin a dependency version with poetry?", author="dan", chan=HELP, message_id="p1")
    await post(app, adapter, question, command("forget-me", "confirm", author="dan"))
    await clock.advance(timedelta(minutes=11))
    await app.bus.drain()
    assert sent(adapter) == []
    assert await app.store.db.fetchall("SELECT question FROM qa_answers WHERE asker_id = 'dan'") == []
    # A due question that reaches a worker after the asker was forgotten elsewhere is dropped too.
    await app.bus.publish(HumanFirstDue(question))
    await app.bus.drain()
    assert sent(adapter) == []


async def test_a_waiting_question_is_not_answered_after_the_bot_was_removed(make_app, community_settings) -> None:
    """Kicked (or uninstalled) while the question waited: no answer is attempted, as every post
    there would fail; the question is answered once the bot is back and its timer fires again."""
    from bot.events import Platform, WorkspaceRef, WorkspaceRemoved

    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, community_settings, ScriptedLLM(echo_first_source), clock)
    await seed_history(app, adapter)
    question = make_message("how do I pin a dependency version with poetry?", author="dan", chan=HELP, message_id="k1")
    await post(app, adapter, question)
    await adapter.inject(WorkspaceRemoved(WorkspaceRef(Platform.CONSOLE, "local"), clock.now(), "test"))
    await app.bus.drain()
    await clock.advance(timedelta(minutes=11))
    await app.bus.drain()
    assert sent(adapter) == []
    await post(app, adapter, make_message("back again", author="erin", minutes=12))
    await app.brain("community").on_due(HumanFirstDue(question))
    await app.bus.drain()
    [answer] = sent(adapter)
    assert answer.thread_id == "k1"


async def test_abstain_becomes_a_nudge_naming_experts_but_never_opted_out_ones_and_rate_limited(
    make_app, community_settings
) -> None:
    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, community_settings, ScriptedLLM("NOT_FOUND"), clock)
    await seed_history(app, adapter)
    await post(app, adapter, command("optout", author="carol"))
    await post(
        app,
        adapter,
        make_message("how can I pin a dependency version with poetry?", author="dan", chan=HELP, message_id="n1"),
    )
    await clock.advance(timedelta(minutes=11))
    await app.bus.drain()
    [nudge] = sent(adapter)
    assert "Nobody has answered yet" in nudge.text and "@bob" in nudge.text and "carol" not in nudge.text
    assert nudge.notify_user_ids == ("bob",)  # the experts it names are meant to be notified, nobody else
    # bob may be pinged once a day (max_pings_per_day=1): the next nudge names nobody.
    await post(
        app, adapter, make_message("how should I pin a dependency in poetry?", author="fay", chan=HELP, message_id="n2")
    )
    await clock.advance(timedelta(minutes=11))
    await app.bus.drain()
    assert "@bob" not in sent(adapter)[-1].text


async def test_the_ping_limit_resets_at_the_communitys_midnight_not_utcs(make_app, community_settings) -> None:
    # 09:00 UTC on 5 January is 22:00 in Auckland (UTC+13): two hours later it is the next day there.
    auckland = community_settings.model_copy(update={"timezone": "Pacific/Auckland"})
    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, auckland, ScriptedLLM("NOT_FOUND"), clock)
    await seed_history(app, adapter)
    await post(
        app, adapter, make_message("how can I pin a dependency with poetry?", author="dan", chan=HELP, message_id="n1")
    )
    await clock.advance(timedelta(minutes=11))
    await app.bus.drain()
    assert "@bob" in sent(adapter)[-1].text
    await clock.advance(timedelta(hours=2))  # 00:11 on 6 January in Auckland, still 5 January in UTC
    await post(
        app, adapter, make_message("how should I pin a dependency in poetry?", author="fay", chan=HELP, message_id="n2")
    )
    await clock.advance(timedelta(minutes=11))
    await app.bus.drain()
    assert "@bob" in sent(adapter)[-1].text
    days = await app.store.db.fetchall("SELECT day FROM community_pings WHERE user_id = 'bob' ORDER BY day")
    assert [d[0] for d in days] == ["2026-01-05", "2026-01-06"]


async def test_solved_by_reaction_button_and_thanks(make_app, community_settings) -> None:
    app, adapter = await start(make_app, community_settings, ScriptedLLM("NOT_FOUND"))
    root = make_message("why does my import fail?", author="ann", message_id="s1", thread_id="s1")
    r1 = make_message("add __init__.py to the package", author="bob", message_id="s2", thread_id="s1", minutes=1)
    await post(app, adapter, root, r1)
    # Someone other than the asker reacting with ✅ does not solve it.
    await post(app, adapter, ReactionAdded(channel("general"), "s2", user("zed"), "✅", BASE_TIME))
    assert adapter.of_type(AddReaction) == []
    await post(app, adapter, ReactionAdded(channel("general"), "s2", user("ann"), "white_check_mark", BASE_TIME))
    row = await app.store.db.fetchone("SELECT solved_message_id FROM threads WHERE thread_id = ?", ("s1",))
    assert row == ("s2",)
    [tick] = adapter.of_type(AddReaction)
    assert tick.message_id == "s1" and tick.emoji == "white_check_mark"  # console/Slack: ✅ on the root

    t2 = make_message("how to format dates?", author="ann", message_id="t1", thread_id="t1")
    await post(
        app, adapter, t2, make_message("use strftime('%Y')", author="carol", message_id="t2", thread_id="t1", minutes=1)
    )
    await post(
        app, adapter, make_message("thanks, that worked!", author="ann", message_id="t3", thread_id="t1", minutes=2)
    )
    assert await app.store.db.fetchone("SELECT solved_message_id FROM threads WHERE thread_id = ?", ("t1",)) == ("t2",)

    t3 = make_message("what's a venv?", author="gus", message_id="u1", thread_id="u1")
    await post(
        app,
        adapter,
        t3,
        make_message("an isolated environment", author="bob", message_id="u2", thread_id="u1", minutes=1),
    )
    click = ButtonClicked(SOLVED_ACTION, "u1", user("mallory"), channel("general"), "u9", "click1")
    await post(app, adapter, click)
    assert await app.store.db.fetchone("SELECT solved_message_id FROM threads WHERE thread_id = ?", ("u1",)) == (None,)
    await post(app, adapter, ButtonClicked(SOLVED_ACTION, "u1", user("gus"), channel("general"), "u9", "click2"))
    assert await app.store.db.fetchone("SELECT solved_message_id FROM threads WHERE thread_id = ?", ("u1",)) == ("u2",)


async def test_only_the_asker_marks_solved_before_the_thread_has_a_reply(make_app, community_settings) -> None:
    """No threads row yet (no reply stored): the root message says who asked."""
    app, adapter = await start(make_app, community_settings, ScriptedLLM("NOT_FOUND"))
    await post(app, adapter, make_message("how do I freeze requirements?", author="gus", message_id="v1"))
    await post(app, adapter, ButtonClicked(SOLVED_ACTION, "v1", user("mallory"), channel("general"), "v9", "c1"))
    assert not [a for a in adapter.of_type(AddReaction) if a.message_id == "v1"]  # no ✅ on the question
    assert "Only the member who asked" in adapter.of_type(SendEphemeral)[-1].text
    await post(app, adapter, ButtonClicked(SOLVED_ACTION, "v1", user("gus"), channel("general"), "v9", "c2"))
    assert [a.emoji for a in adapter.of_type(AddReaction) if a.message_id == "v1"] == ["white_check_mark"]


async def test_a_mark_solved_button_posted_before_slack_ids_named_their_channel_still_works(
    make_app, community_settings
) -> None:
    app, adapter = await start(make_app, community_settings, ScriptedLLM("NOT_FOUND"))
    slack = channel("CHELP", platform=Platform.SLACK, workspace="T1")

    def slack_user(name: str):
        return user(name, platform=Platform.SLACK, workspace="T1")

    root = make_message(
        "why is pip slow?", author=slack_user("UANN"), chan=slack, message_id="CHELP:5.1", thread_id="CHELP:5.1"
    )
    reply = make_message(
        "use a wheel cache",
        author=slack_user("UBOB"),
        chan=slack,
        message_id="CHELP:6.1",
        thread_id="CHELP:5.1",
        minutes=1,
    )
    await post(app, adapter, root, reply)
    # The button's value is the bare thread ts an earlier version put there.
    await post(app, adapter, ButtonClicked(SOLVED_ACTION, "5.1", slack_user("UMAL"), slack, "CHELP:7.1", "c1"))
    solved = "SELECT thread_id, solved_message_id FROM threads WHERE platform = 'slack'"
    assert await app.store.db.fetchall(solved) == [("CHELP:5.1", None)]  # only the asker may mark it
    await post(app, adapter, ButtonClicked(SOLVED_ACTION, "5.1", slack_user("UANN"), slack, "CHELP:7.1", "c2"))
    assert await app.store.db.fetchall(solved) == [("CHELP:5.1", "CHELP:6.1")]


async def test_a_solved_thread_is_reindexed_as_solved(make_app, community_settings) -> None:
    from brain.qa.units import SOLVED_FLAG

    app, adapter = await start(make_app, community_settings, ScriptedLLM("NOT_FOUND"))
    root = make_message("why does my import fail?", author="ann", message_id="r1", thread_id="r1")
    reply = make_message("add __init__.py to the package", author="bob", message_id="r2", thread_id="r1", minutes=1)
    await post(app, adapter, root, reply)
    indexer = await app.brain("qa").indexer()

    def thread_units() -> list[object]:
        return [u for u in indexer.bm25.units() if u.thread_id == "r1"]

    await indexer.flush()
    assert thread_units() and not any(u.extra.get(SOLVED_FLAG) for u in thread_units())
    await post(app, adapter, ReactionAdded(channel("general"), "r2", user("ann"), "✅", BASE_TIME))
    await indexer.flush()
    assert thread_units() and all(u.extra.get(SOLVED_FLAG) == "1" for u in thread_units())


async def test_imported_tick_marks_solved_quietly(make_app, community_settings) -> None:
    app, adapter = await start(make_app, community_settings, ScriptedLLM("NOT_FOUND"))
    root = make_message("why does my import fail?", author="ann", message_id="h1", thread_id="h1")
    reply = make_message("add __init__.py", author="bob", message_id="h2", thread_id="h1", minutes=1)
    await post(app, adapter, root, reply)
    tick = ReactionAdded(channel("general"), "h2", user("ann"), "✅", BASE_TIME, source=EventSource.IMPORT)
    await post(app, adapter, tick)
    assert await app.store.db.fetchone("SELECT solved_message_id FROM threads WHERE thread_id = ?", ("h1",)) == ("h2",)
    assert adapter.of_type(AddReaction) == [], "history is not re-announced"


async def test_similar_threads_on_a_new_thread_exclude_private_channels(make_app, community_settings) -> None:
    app, adapter = await start(make_app, community_settings, ScriptedLLM("NOT_FOUND"))
    await seed_history(app, adapter)
    mods = ChannelRef(Platform.CONSOLE, "local", "mods", "mods", Visibility.PRIVATE)
    await post(app, adapter, ChannelSeen(mods, member_ids=("mo",)))
    secret = make_message(
        "how do I pin a dependency version with poetry secretly?",
        author="mo",
        chan=mods,
        message_id="x1",
        thread_id="x1",
    )
    await post(
        app,
        adapter,
        secret,
        make_message("poetry add secret==1", author="bob", chan=mods, message_id="x2", thread_id="x1"),
    )
    await post(app, adapter, ReactionAdded(mods, "x2", user("mo"), "✅", BASE_TIME))
    await (await app.brain("qa").indexer()).index_all()
    first = make_message(
        "how do I pin a dependency version with poetry?", author="dan", chan=HELP, message_id="f1", thread_id="f1"
    )
    await post(app, adapter, first, ThreadCreated(HELP, "f1", "pinning with poetry", user("dan"), BASE_TIME))
    [hint] = sent(adapter)
    assert hint.thread_id == "f1" and 1 <= len(hint.citations) <= 3
    assert all("mods" not in c.url and "secret" not in c.title for c in hint.citations)
    # Redelivery of the same ThreadCreated does not post twice.
    await app.bus.publish(ThreadCreated(HELP, "f1", "pinning with poetry", user("dan"), BASE_TIME))
    await app.bus.drain()
    assert len(sent(adapter)) == 1


async def shadow_mode_in_help(app, adapter) -> None:
    """The seeded history, with #help in shadow mode and drafts going to #mods."""
    await seed_history(app, adapter)
    await see_mods(app, adapter)
    await post(app, adapter, command("guildhall config", "set shadow_channels help", admin=True))
    await post(app, adapter, command("guildhall config", "set moderators_channel mods", admin=True))


async def see_mods(app, adapter) -> None:
    """The bot sees the private #mods channel (a moderators_channel must be a channel it knows)."""
    await post(app, adapter, ChannelSeen(ChannelRef(Platform.CONSOLE, "local", "mods", "mods", Visibility.PRIVATE)))


async def draft_after_the_wait(app, adapter, clock: FakeClock, text: str, author: str, message_id: str) -> SendMessage:
    """Ask ``text`` in #help, let the human-first wait pass, and return the draft sent to #mods."""
    await post(app, adapter, make_message(text, author=author, chan=HELP, message_id=message_id))
    await clock.advance(timedelta(minutes=11))
    await app.bus.drain()
    return sent(adapter)[-1]


async def first_shadow_draft(make_app, settings: Settings):
    """An app with #help in shadow mode, after dan's question there drafted its (only) message to #mods."""
    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, settings, ScriptedLLM(echo_first_source), clock)
    await shadow_mode_in_help(app, adapter)
    draft = await draft_after_the_wait(
        app, adapter, clock, "how do I pin a dependency version with poetry?", "dan", "d1"
    )
    assert len(sent(adapter)) == 1
    return app, adapter, clock, draft


def approve_button(draft: SendMessage) -> str:
    return next(b.value for b in draft.buttons if b.value.startswith("approve:"))


def mod_click(value: str, mod: str, message_id: str, interaction_id: str, *, admin: bool = True) -> ButtonClicked:
    """A moderator (an admin, by default) pressing a draft's button in #mods."""
    return ButtonClicked(
        DRAFT_ACTION, value, user(mod), channel("mods"), message_id, interaction_id, is_platform_admin=admin
    )


async def test_a_member_who_is_no_admin_cannot_approve_a_draft(make_app, community_settings) -> None:
    app, adapter, _, draft = await first_shadow_draft(make_app, community_settings)
    await post(app, adapter, mod_click(approve_button(draft), "mallory", "dm1", "c9", admin=False))
    assert [m for m in sent(adapter) if m.channel.channel_id == "help"] == []
    row = await app.store.db.fetchone("SELECT status FROM community_drafts")
    assert row == ("pending",)  # still the moderators' to decide


async def test_an_admin_of_another_workspace_cannot_decide_a_draft(make_app, community_settings) -> None:
    app, adapter, _, draft = await first_shadow_draft(make_app, community_settings)
    other = ButtonClicked(
        DRAFT_ACTION,
        approve_button(draft),
        user("mod9", workspace="T2"),
        channel("mods", workspace="T2"),
        "dm1",
        "c9",
        is_platform_admin=True,
    )
    await post(app, adapter, other)
    assert [m for m in sent(adapter) if m.channel.channel_id == "help"] == []
    row = await app.store.db.fetchone("SELECT status FROM community_drafts")
    assert row == ("pending",)  # the draft's own moderators still decide


async def test_shadow_mode_drafts_are_never_posted_without_approval(make_app, community_settings) -> None:
    app, adapter, clock, draft = await first_shadow_draft(make_app, community_settings)
    assert draft.channel.channel_id == "mods" and {b.action_id for b in draft.buttons} == {DRAFT_ACTION}
    discard = next(b for b in draft.buttons if b.value.startswith("discard:"))
    # Discard first, then a late approve: nothing is posted in #help.
    await post(app, adapter, mod_click(discard.value, "mod1", "dm1", "c1"))
    await post(app, adapter, mod_click(approve_button(draft), "mod2", "dm1", "c2"))
    assert [m for m in sent(adapter) if m.channel.channel_id == "help"] == []
    # A second question, approved: posted as the bot in the original thread.
    draft2 = await draft_after_the_wait(
        app, adapter, clock, "how do I pin dependency versions using poetry?", "eve", "d2"
    )
    await post(app, adapter, mod_click(approve_button(draft2), "mod1", "dm2", "c3"))
    posted = [m for m in sent(adapter) if m.channel.channel_id == "help"]
    assert len(posted) == 1 and posted[0].thread_id == "d2" and posted[0].text == draft2.text.split("\n\n", 1)[1]


async def test_a_question_in_a_private_shadow_channel_is_not_drafted_into_another_channel(
    make_app, community_settings
) -> None:
    """#mods may have readers who cannot read #staff-help: the draft (its question, and answers
    from #staff-help's history) is not posted there."""
    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, community_settings, ScriptedLLM(echo_first_source), clock)
    staff = channel("staff-help", visibility=Visibility.PRIVATE)
    await post(app, adapter, make_message("the deploy token lives in vault at ops/deploy", author="bob", chan=staff))
    await see_mods(app, adapter)
    for setting in ("qa_help_channels staff-help", "shadow_channels staff-help", "moderators_channel mods"):
        await post(app, adapter, command("guildhall config", f"set {setting}", admin=True))
    await post(app, adapter, make_message("where does the deploy token live?", author="dan", chan=staff, minutes=5))
    await clock.advance(timedelta(minutes=30))
    await app.bus.drain()
    assert [m for m in sent(adapter) if m.channel.channel_id == "mods"] == []


async def test_a_draft_quoting_a_forgotten_member_is_dropped_and_never_posted(make_app, community_settings) -> None:
    app, adapter, _, draft = await first_shadow_draft(make_app, community_settings)
    assert "pin it with poetry add requests==2.31.0 and commit poetry.lock [1]" in draft.text  # ann's thread

    async def drafts() -> int:
        return (await app.store.db.fetchone("SELECT COUNT(*) FROM community_drafts"))[0]

    await post(app, adapter, command("forget-me", "confirm", author="zed"))  # quoted nowhere
    assert await drafts() == 1
    await post(app, adapter, command("forget-me", "confirm", author="ann"))
    assert await drafts() == 0
    await post(app, adapter, mod_click(approve_button(draft), "mod1", "dm1", "c1"))
    assert [m for m in sent(adapter) if m.channel.channel_id == "help"] == []
    notice = adapter.of_type(SendEphemeral)[-1]
    assert notice.user.user_id == "mod1" and "no longer available" in notice.text


async def test_a_draft_from_before_cited_authors_were_recorded_goes_with_any_forget(
    make_app, community_settings
) -> None:
    app, adapter = await start(make_app, community_settings, ScriptedLLM(echo_first_source))
    await app.store.db.execute(
        "INSERT INTO community_drafts (draft_id, platform, workspace_id, channel_json, thread_id, message_id, "
        "asker_id, answer, citations_json, status, ts) VALUES ('old', 'console', 'local', '{}', 't', 'm', 'dan', "
        "'quotes someone', '[]', 'pending', 0)"
    )
    await post(app, adapter, command("forget-me", "confirm", author="zed"))
    assert await app.store.db.fetchone("SELECT draft_id FROM community_drafts") is None


async def test_retention_drops_old_drafts(make_app, community_settings) -> None:
    app, _, clock, _ = await first_shadow_draft(make_app, community_settings)
    community = app.brain("community")
    now = clock.now().timestamp()
    assert await community.purge_before(now - 60, platform="console", workspace_id="local") == 0
    assert await community.purge_before(now + 1, platform="console", workspace_id="local") == 1


async def test_with_the_community_brain_the_qa_unanswered_job_never_bypasses_shadow_mode(
    make_app, community_settings
) -> None:
    tuned = community_settings.model_copy(
        update={"qa": community_settings.qa.model_copy(update={"answer_unanswered_after_min": 1})}
    )
    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, tuned, ScriptedLLM(echo_first_source), clock)
    await shadow_mode_in_help(app, adapter)
    await post(
        app, adapter, make_message("how do I pin a dependency with poetry?", author="dan", chan=HELP, message_id="s1")
    )
    await clock.advance(timedelta(minutes=2))
    await app.brain("qa").answer_unanswered()
    await app.bus.drain()
    assert sent(adapter) == []  # the QA brain's own job stands down
    await clock.advance(timedelta(minutes=9))
    await app.bus.drain()
    [draft] = sent(adapter)
    assert draft.channel.channel_id == "mods"


async def test_a_question_the_bot_already_answered_is_not_answered_again_after_the_wait(
    make_app, community_settings
) -> None:
    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, community_settings, ScriptedLLM(echo_first_source), clock)
    await seed_history(app, adapter)
    question = make_message(
        "how do I pin a dependency with poetry?", author="dan", chan=HELP, message_id="m1", mentions_bot=True
    )
    await post(app, adapter, question)
    assert len(sent(adapter)) == 1  # answered at once: the member asked the bot
    await clock.advance(timedelta(minutes=11))
    await app.bus.drain()
    assert len(sent(adapter)) == 1


async def test_experts_command_lists_members_without_pinging(make_app, community_settings) -> None:
    app, adapter = await start(make_app, community_settings, ScriptedLLM("NOT_FOUND"))
    await seed_history(app, adapter)
    await post(app, adapter, command("experts", "pinning dependencies with poetry", author="dan"))
    reply = adapter.of_type(CommandReply)[-1]
    assert reply.text.splitlines()[1].startswith("• bob")
    rows = await app.store.db.fetchall("SELECT COUNT(*) FROM community_pings")
    assert rows[0][0] == 0


async def test_a_question_deleted_or_edited_away_while_waiting_is_not_answered(make_app, community_settings) -> None:
    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, community_settings, ScriptedLLM(echo_first_source), clock)
    await seed_history(app, adapter)
    await post(
        app,
        adapter,
        make_message("how do I pin a dependency version with poetry?", author="dan", chan=HELP, message_id="d1"),
        make_message("how do I pin a dependency version in poetry?", author="fay", chan=HELP, message_id="e1"),
    )
    await clock.advance(timedelta(minutes=5))
    await post(
        app,
        adapter,
        MessageDeleted(channel=HELP, message_id="d1", deleted_at=clock.now()),
        MessageEdited(channel=HELP, message_id="e1", text="", edited_at=clock.now()),
    )
    await clock.advance(timedelta(minutes=6))
    await app.bus.drain()
    assert sent(adapter) == []  # no answer in the thread of a question that is gone


async def test_a_redelivered_question_is_answered_once(make_app, community_settings) -> None:
    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, community_settings, ScriptedLLM(echo_first_source), clock)
    await seed_history(app, adapter)
    question = make_message("how do I pin a dependency version with poetry?", author="dan", chan=HELP, message_id="r1")
    await post(app, adapter, question)
    await clock.advance(timedelta(minutes=11))
    await app.bus.drain()
    assert len(sent(adapter)) == 1
    # The platform (or the Redis bus after a restart) delivers the same question again.
    await post(app, adapter, question)
    await clock.advance(timedelta(minutes=11))
    await app.bus.drain()
    assert len(sent(adapter)) == 1


async def only_post_after_the_wait(app, adapter, clock: FakeClock, *, chan: ChannelRef) -> SendMessage:
    """Dan asks how to pin a poetry dependency in ``chan``; the one post the wait brings."""
    await post(
        app,
        adapter,
        make_message("how can I pin a dependency version with poetry?", author="dan", chan=chan, message_id="n1"),
    )
    await clock.advance(timedelta(minutes=11))
    await app.bus.drain()
    [nudge] = sent(adapter)
    return nudge


async def test_a_nudge_never_names_an_expert_who_left(make_app, community_settings) -> None:
    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, community_settings, ScriptedLLM("NOT_FOUND"), clock)
    await seed_history(app, adapter)
    await post(app, adapter, MemberLeft(user("bob"), BASE_TIME))
    nudge = await only_post_after_the_wait(app, adapter, clock, chan=HELP)
    assert "bob" not in nudge.text and "bob" not in nudge.notify_user_ids


async def test_a_nudge_in_a_private_help_channel_never_names_a_member_who_cannot_read_it(
    make_app, community_settings
) -> None:
    private = community_settings.model_copy(
        update={"qa": community_settings.qa.model_copy(update={"help_channel_ids": ["help", "secret"]})}
    )
    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, private, ScriptedLLM("NOT_FOUND"), clock)
    await seed_history(app, adapter)  # bob helps in the public #help
    secret = channel("secret", visibility=Visibility.PRIVATE)
    await post(app, adapter, ChannelSeen(secret, member_ids=("dan", "erin")))
    await post(
        app,
        adapter,
        make_message("how do I pin a poetry dependency?", author="dan", chan=secret, message_id="x1", minutes=-300),
        make_message("poetry add pkg==1.0", author="erin", chan=secret, message_id="x2", thread_id="x1", minutes=-299),
    )
    await (await app.brain("qa").indexer()).index_all()
    nudge = await only_post_after_the_wait(app, adapter, clock, chan=secret)
    assert "bob" not in nudge.text and "bob" not in nudge.notify_user_ids


async def test_a_question_whose_wait_ends_again_after_a_restart_is_answered_once(make_app, community_settings) -> None:
    """A restart (or another worker) that gets the question again sets a new timer; when it fires,
    the bot's own earlier answer in the thread is no human reply, yet nothing is posted twice."""
    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, community_settings, ScriptedLLM(echo_first_source), clock)
    await seed_history(app, adapter)
    question = make_message("how do I pin a dependency version with poetry?", author="dan", chan=HELP, message_id="r2")
    await post(app, adapter, question)
    await clock.advance(timedelta(minutes=11))
    await app.bus.drain()
    assert len(sent(adapter)) == 1
    # The new timer's event (the bus's in-process dedupe is gone after a restart).
    await app.brain("community").on_due(HumanFirstDue(question))
    await app.bus.drain()
    assert len(sent(adapter)) == 1
