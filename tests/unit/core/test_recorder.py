"""Live and imported facts take one path into the store."""

from __future__ import annotations

from datetime import timedelta

from bot.events import (
    ChannelRef,
    ChannelSeen,
    MessageDeleted,
    MessageEdited,
    Platform,
    ReactionAdded,
    ReactionRemoved,
    ThreadCreated,
    Visibility,
)
from bot.testing import make_message, user
from bot.testing.builders import BASE_TIME


async def test_post_edit_delete_and_reactions_in_one_stream(make_app) -> None:
    app, adapter = await make_app()
    ch = ChannelRef(Platform.CONSOLE, "local", "help", "help")
    root = make_message("how do I pin a dependency?", chan=ch, message_id="r1", thread_id="r1")
    reply = make_message("use poetry add pkg@1.2", author="bob", chan=ch, message_id="r2", thread_id="r1", minutes=1)
    for event in (
        root,
        reply,
        MessageEdited(ch, "r2", "use `poetry add pkg==1.2`", BASE_TIME + timedelta(minutes=2)),
        ReactionAdded(ch, "r2", user("alice"), "✅"),
        ReactionAdded(ch, "r2", user("carol"), "✅"),
        ReactionRemoved(ch, "r2", user("carol"), "✅"),
        MessageDeleted(ch, "r1"),
    ):
        await adapter.inject(event)
    await app.bus.drain()
    store = app.store
    edited = await store.get_message("console", "local", "r2")
    assert edited is not None and edited.text == "use `poetry add pkg==1.2`"
    deleted = await store.get_message("console", "local", "r1")
    assert deleted is not None and deleted.deleted and deleted.text == ""
    assert [r.user_id for r in await store.reactions_for("console", "local", "r2")] == ["alice"]
    thread = await store.db.fetchone("SELECT author_id FROM threads WHERE thread_id = ?", ("r1",))
    assert thread == ("alice",)


async def test_private_channel_access_is_recorded(make_app) -> None:
    app, adapter = await make_app()
    mods = ChannelRef(Platform.DISCORD, "g", "mods", "mods", Visibility.PRIVATE, allowed_role_ids=("role-mod",))
    await adapter.inject(ChannelSeen(mods, member_ids=("u-ann",)))
    await adapter.inject(
        make_message("mods only", author=user("u-bob", platform=Platform.DISCORD, workspace="g"), chan=mods)
    )
    await adapter.inject(
        ThreadCreated(mods, "t1", "planning", user("u-ann", platform=Platform.DISCORD, workspace="g"), BASE_TIME)
    )
    await app.bus.drain()
    assert await app.store.readable_channel_ids("discord", "g", "u-ann") == {"mods"}
    assert await app.store.readable_channel_ids("discord", "g", "u-bob") == {"mods"}
    assert await app.store.readable_channel_ids("discord", "g", "u-eve") == set()
    assert await app.store.readable_channel_ids("discord", "g", "u-eve", ["role-mod"]) == {"mods"}
