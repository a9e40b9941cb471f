"""privacy forget --user NAME: a Discord member in many guilds must not hide a second member of the
same name (the lookup was cut at 20 rows before one person's guilds were merged into one candidate,
and the first member was erased without asking)."""

from __future__ import annotations

import asyncio

from typer.testing import CliRunner

from bot.cli import app
from bot.store import MessageRow, UserRow, open_store


def test_forget_by_name_with_a_namesake_past_the_limit(db_env: str) -> None:
    url = db_env
    guilds = [f"10{i:02d}" for i in range(21)]  # 1000..1020
    users = [UserRow("discord", g, "111", "Alex") for g in guilds]
    users.append(UserRow("discord", "9999", "222", "Alex"))  # another person, same name, sorts last
    msgs = [MessageRow("discord", g, f"m{g}", "C1", "111", 1.0, "alex one") for g in guilds]
    msgs.append(MessageRow("discord", "9999", "m2", "C1", "222", 1.0, "alex two"))

    async def seed() -> None:
        s = await open_store(url)
        await s.upsert_users(users)
        await s.upsert_messages(msgs)
        await s.close()

    asyncio.run(seed())
    res = CliRunner().invoke(app, ["privacy", "forget", "--user", "alex", "--yes"])
    assert res.exit_code == 2, res.stdout + res.stderr
    assert "222" in res.stderr and "111" in res.stderr
