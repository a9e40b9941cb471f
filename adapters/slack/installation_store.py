"""Bolt's installation and OAuth-state stores on Guildhall's own database (SQLite or PostgreSQL).

One deployment serves many workspaces: every OAuth install is saved here, and Bolt's
``AsyncInstallationStoreAuthorize`` finds the right bot token for each incoming request. Keeping the
rows in the store's database (instead of Bolt's default files under ``$HOME``) means backups,
PostgreSQL deployments and ``guildhall privacy`` tooling see them too.

Rows are keyed by ``(client_id, kind, enterprise_id, team_id, user_id)`` with ``''`` for absent ids;
``kind`` is ``installation`` (one row for the latest installer, ``user_id=''``, and one per installer)
or ``bot`` (the workspace's bot token). The payload is the SDK object's own ``to_dict_for_copying``.

A workspace of an Enterprise Grid org, installed on its own, is saved under its enterprise id too
(``oauth.v2.access`` names it). A lookup that names no enterprise (``enterprise_id=None``, as when
only the team is known) finds the team's rows whatever their enterprise, the newest first: a team id
is unique across Slack, and the newest row is the current one for a workspace moved into an org.
An org-wide install (no team) is only found by its enterprise id.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import datetime
from typing import Any

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from bot.store.db import Database
from bot.store.schema import Migration, register

register(
    Migration(
        "slack-0001-installations",
        (
            """CREATE TABLE IF NOT EXISTS slack_installations (
                client_id TEXT NOT NULL, kind TEXT NOT NULL, enterprise_id TEXT NOT NULL DEFAULT '',
                team_id TEXT NOT NULL DEFAULT '', user_id TEXT NOT NULL DEFAULT '',
                is_enterprise_install INTEGER NOT NULL DEFAULT 0,
                installed_at DOUBLE PRECISION NOT NULL, data TEXT NOT NULL,
                PRIMARY KEY (client_id, kind, enterprise_id, team_id, user_id))""",
            """CREATE TABLE IF NOT EXISTS slack_oauth_states (
                state TEXT PRIMARY KEY, expires_at DOUBLE PRECISION NOT NULL)""",
        ),
    )
)

_UPSERT = """
INSERT INTO slack_installations
    (client_id, kind, enterprise_id, team_id, user_id, is_enterprise_install, installed_at, data)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (client_id, kind, enterprise_id, team_id, user_id) DO UPDATE SET
    is_enterprise_install = excluded.is_enterprise_install,
    installed_at = excluded.installed_at,
    data = excluded.data
"""

_BOT_FIELDS = (
    "bot_token",
    "bot_id",
    "bot_user_id",
    "bot_scopes",
    "bot_refresh_token",
    "bot_token_expires_at",
)


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    # The SDK's dicts hold datetimes (installed_at, *_expires_at); its constructors accept epoch floats.
    return {k: (v.timestamp() if isinstance(v, datetime) else v) for k, v in data.items()}


def _keys(enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None) -> tuple[str, str]:
    # An org-wide install serves every team of the enterprise: it is stored (and found) without a team.
    return enterprise_id or "", "" if is_enterprise_install else (team_id or "")


def _lookup_keys(
    enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None
) -> tuple[str | None, str]:
    # As _keys, but a workspace asked for without its enterprise (None) is found in any of them.
    ent, team = _keys(enterprise_id, team_id, is_enterprise_install)
    return (None, team) if enterprise_id is None and team else (ent, team)


class SQLInstallationStore(AsyncInstallationStore):
    """An :class:`AsyncInstallationStore` backed by :class:`bot.store.db.Database`.

    Args:
        db: the store's database (``store.db``); the table comes from a registered migration.
        client_id: the Slack app's client id, so several apps can share one database.
    """

    def __init__(self, db: Database, client_id: str, logger: logging.Logger | None = None) -> None:
        self._db = db
        self.client_id = client_id
        self._logger = logger or logging.getLogger(__name__)

    @property
    def logger(self) -> logging.Logger:
        """The logger Bolt uses for this store."""
        return self._logger

    async def async_save(self, installation: Installation) -> None:
        """Save an installation: latest-installer row, per-installer row and the bot row."""
        ent, team = _keys(installation.enterprise_id, installation.team_id, installation.is_enterprise_install)
        data = json.dumps(_jsonable(installation.to_dict_for_copying()))
        rows = [
            (
                self.client_id,
                "installation",
                ent,
                team,
                "",
                int(bool(installation.is_enterprise_install)),
                installation.installed_at,
                data,
            ),
            (
                self.client_id,
                "installation",
                ent,
                team,
                installation.user_id,
                int(bool(installation.is_enterprise_install)),
                installation.installed_at,
                data,
            ),
        ]
        await self._db.executemany(_UPSERT, rows)
        if installation.bot_token:
            await self.async_save_bot(installation.to_bot())

    async def async_save_bot(self, bot: Bot) -> None:
        """Save the workspace's bot token."""
        ent, team = _keys(bot.enterprise_id, bot.team_id, bot.is_enterprise_install)
        data = json.dumps(_jsonable(bot.to_dict_for_copying()))
        await self._db.execute(
            _UPSERT,
            (self.client_id, "bot", ent, team, "", int(bool(bot.is_enterprise_install)), bot.installed_at, data),
        )

    async def _load(
        self, kind: str, enterprise_id: str | None, team_id: str, user_id: str
    ) -> tuple[str, dict[str, Any]] | None:
        """The enterprise key and payload of a row; ``enterprise_id`` None: the team's newest row in
        any enterprise (or none)."""
        sql = (
            "SELECT enterprise_id, data FROM slack_installations "
            "WHERE client_id = ? AND kind = ? AND team_id = ? AND user_id = ?"
        )
        params: list[Any] = [self.client_id, kind, team_id, user_id]
        if enterprise_id is not None:
            sql += " AND enterprise_id = ?"
            params.append(enterprise_id)
        row = await self._db.fetchone(sql + " ORDER BY installed_at DESC LIMIT 1", params)
        if row is None:
            return None
        data: dict[str, Any] = json.loads(row[1])
        return str(row[0]), data

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        """The bot installed in a workspace (or org), or None; ``enterprise_id`` None finds the
        workspace's bot in whichever enterprise it was installed."""
        ent, team = _lookup_keys(enterprise_id, team_id, is_enterprise_install)
        found = await self._load("bot", ent, team, "")
        return Bot(**found[1]) if found else None

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        """The latest installation (by ``user_id`` when given), carrying the newest bot token;
        ``enterprise_id`` None finds the workspace's in whichever enterprise it was installed."""
        ent, team = _lookup_keys(enterprise_id, team_id, is_enterprise_install)
        found = await self._load("installation", ent, team, user_id or "")
        if found is None:
            return None
        row_ent, data = found
        # A member's own install can be older than the bot's latest (token rotation, reinstall by
        # someone else): the bot fields always come from the bot row, as the SDK's stores do.
        bot = await self._load("bot", row_ent, team, "")
        if bot is not None:
            data.update({k: bot[1].get(k) for k in _BOT_FIELDS})
        return Installation(**data)

    async def async_delete_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> None:
        """Forget a workspace's bot token (``tokens_revoked`` / uninstall)."""
        ent, team = _keys(enterprise_id, team_id, is_enterprise_install)
        await self._db.execute(
            "DELETE FROM slack_installations WHERE client_id = ? AND kind = 'bot' AND enterprise_id = ? AND team_id = ?",
            (self.client_id, ent, team),
        )

    async def async_delete_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> None:
        """Forget one installer's rows, or every installation row of the workspace when ``user_id`` is None."""
        ent, team = _keys(enterprise_id, team_id, is_enterprise_install)
        sql = "DELETE FROM slack_installations WHERE client_id = ? AND kind = 'installation' AND enterprise_id = ? AND team_id = ?"
        params: list[Any] = [self.client_id, ent, team]
        if user_id is not None:
            sql += " AND user_id = ?"
            params.append(user_id)
        await self._db.execute(sql, params)

    async def async_delete_all(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> None:
        """Forget everything about a workspace (``app_uninstalled``)."""
        await self.async_delete_bot(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install
        )
        await self.async_delete_installation(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install
        )


class SQLOAuthStateStore(AsyncOAuthStateStore):
    """One-time OAuth ``state`` values in the store's database, valid for ``expiration_seconds``."""

    def __init__(self, db: Database, expiration_seconds: int = 600, logger: logging.Logger | None = None) -> None:
        self._db = db
        self.expiration_seconds = expiration_seconds
        self._logger = logger or logging.getLogger(__name__)

    @property
    def logger(self) -> logging.Logger:
        """The logger Bolt uses for this store."""
        return self._logger

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        """Create a new state value."""
        state = uuid.uuid4().hex
        await self._db.execute(
            "INSERT INTO slack_oauth_states (state, expires_at) VALUES (?, ?)",
            (state, time.time() + self.expiration_seconds),
        )
        return state

    async def async_consume(self, state: str) -> bool:
        """True once for a valid, unexpired state; the row is deleted either way.

        Deleting is the check: of two callbacks with one state arriving together, only the one
        whose delete removed the row succeeds (a read before the delete let both pass).
        """
        now = time.time()
        consumed = await self._db.execute(
            "DELETE FROM slack_oauth_states WHERE state = ? AND expires_at >= ?", (state, now)
        )
        await self._db.execute("DELETE FROM slack_oauth_states WHERE expires_at < ?", (now,))
        return consumed > 0
