"""``member_candidates`` finds members known only from access lists, never a role or a server.

Access lists name roles too, and every Discord channel that an overwrite hides from some members
names the server's @everyone role (the guild's id): before, typing a role or server id into
``guildhall privacy export --user`` resolved it as a "member" of that server.
"""

from __future__ import annotations

from bot.cli_support import member_candidates
from bot.store import open_store


async def test_only_members_are_found_in_access_lists() -> None:
    store = await open_store("sqlite://:memory:")
    try:
        await store.set_channel_access("discord", "G1", "C1", user_ids=["U9"], role_ids=["G1", "R5"])
        assert [m.user_id for m in await member_candidates(store.db, "U9")] == ["U9"]
        assert await member_candidates(store.db, "R5") == []
        assert await member_candidates(store.db, "G1") == []
    finally:
        await store.close()
