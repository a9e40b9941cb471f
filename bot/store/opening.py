"""Opening the configured store, with one clear error when it cannot be opened."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from bot.store.sql import Store, open_store

if TYPE_CHECKING:
    from bot.config import StoreSettings

log = logging.getLogger(__name__)


class StoreUnavailable(RuntimeError):
    """The configured store cannot be opened (server down, wrong credentials, a folder that cannot
    be created): commands say so in one line instead of a page of traceback."""


def safe_store_url(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    # The host and port as written after the "@": ``hostname`` would drop an IPv6 address's brackets.
    host_port = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host_port}"))


async def open_configured_store(settings: StoreSettings) -> Store:
    """The store ``[store]`` configures (its URL and timeouts), migrated: what every command opens.

    Raises:
        StoreUnavailable: it cannot be reached or opened (the cause is chained, and logged at debug
            level with its traceback).
    """
    try:
        return await open_store(
            settings.url, command_timeout_s=settings.command_timeout_s, busy_timeout_s=settings.busy_timeout_s
        )
    except Exception as exc:
        log.debug("cannot open the store", exc_info=True)
        reason = str(exc) or type(exc).__name__
        raise StoreUnavailable(f"cannot open the store at {safe_store_url(settings.url)}: {reason}") from exc
