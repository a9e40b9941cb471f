"""Persistence: a SQL store behind a small driver interface (SQLite by default, PostgreSQL at scale)."""

from bot.store.db import Database, StoreTimeoutError, open_database
from bot.store.models import ChannelRow, MessageRow, ReactionRow, UserRow
from bot.store.opening import StoreUnavailable, open_configured_store
from bot.store.sql import OPTED_OUT_KEY, Store, open_store

__all__ = [
    "OPTED_OUT_KEY",
    "ChannelRow",
    "Database",
    "MessageRow",
    "ReactionRow",
    "Store",
    "StoreTimeoutError",
    "StoreUnavailable",
    "UserRow",
    "open_configured_store",
    "open_database",
    "open_store",
]
