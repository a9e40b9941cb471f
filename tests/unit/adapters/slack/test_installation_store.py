"""The SQL-backed Bolt installation and OAuth state stores."""

from __future__ import annotations

from slack_sdk.oauth.installation_store.models.installation import Installation

from adapters.slack.installation_store import SQLInstallationStore, SQLOAuthStateStore
from bot.store import Store


def installation(team: str, user: str, token: str, installed_at: float) -> Installation:
    return Installation(
        app_id="A1",
        team_id=team,
        team_name="Acme",
        bot_token=token,
        bot_id="B1",
        bot_user_id="UBOT",
        bot_scopes=["chat:write", "commands"],
        user_id=user,
        installed_at=installed_at,
    )


async def test_save_and_find(store: Store) -> None:
    s = SQLInstallationStore(store.db, "client-1")
    await s.async_save(installation("T1", "UADA", "xoxb-1", 1000.0))
    bot = await s.async_find_bot(enterprise_id=None, team_id="T1")
    assert bot is not None and bot.bot_token == "xoxb-1" and bot.bot_scopes == ["chat:write", "commands"]
    found = await s.async_find_installation(enterprise_id=None, team_id="T1")
    assert found is not None and found.user_id == "UADA" and found.team_name == "Acme"
    assert await s.async_find_bot(enterprise_id=None, team_id="T2") is None
    # another app sharing the database sees nothing
    assert await SQLInstallationStore(store.db, "client-2").async_find_bot(enterprise_id=None, team_id="T1") is None


async def test_reinstall_by_someone_else_updates_the_bot_token_for_everyone(store: Store) -> None:
    s = SQLInstallationStore(store.db, "c")
    await s.async_save(installation("T1", "UADA", "xoxb-old", 1000.0))
    await s.async_save(installation("T1", "UBOB", "xoxb-new", 2000.0))
    ada = await s.async_find_installation(enterprise_id=None, team_id="T1", user_id="UADA")
    assert ada is not None and ada.user_id == "UADA" and ada.bot_token == "xoxb-new"
    latest = await s.async_find_installation(enterprise_id=None, team_id="T1")
    assert latest is not None and latest.user_id == "UBOB"


async def test_org_wide_install_found_from_any_team(store: Store) -> None:
    s = SQLInstallationStore(store.db, "c")
    inst = installation("T1", "UADA", "xoxb-org", 1.0)
    inst.enterprise_id = "E1"
    inst.is_enterprise_install = True
    await s.async_save(inst)
    bot = await s.async_find_bot(enterprise_id="E1", team_id="T9", is_enterprise_install=True)
    assert bot is not None and bot.bot_token == "xoxb-org"


async def test_delete(store: Store) -> None:
    s = SQLInstallationStore(store.db, "c")
    await s.async_save(installation("T1", "UADA", "xoxb-1", 1.0))
    await s.async_delete_installation(enterprise_id=None, team_id="T1", user_id="UADA")
    assert await s.async_find_installation(enterprise_id=None, team_id="T1", user_id="UADA") is None
    assert await s.async_find_installation(enterprise_id=None, team_id="T1") is not None
    await s.async_delete_all(enterprise_id=None, team_id="T1")
    assert await s.async_find_installation(enterprise_id=None, team_id="T1") is None
    assert await s.async_find_bot(enterprise_id=None, team_id="T1") is None


async def test_oauth_state_is_single_use_and_expires(store: Store) -> None:
    states = SQLOAuthStateStore(store.db)
    state = await states.async_issue()
    assert await states.async_consume(state) is True
    assert await states.async_consume(state) is False
    assert await states.async_consume("forged") is False
    expired = SQLOAuthStateStore(store.db, expiration_seconds=-1)
    assert await expired.async_consume(await expired.async_issue()) is False
