"""Opening the configured store, with one clear error when it cannot be opened."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.store.sql import Store, open_store
from bot.url_secrets import shows_password, without_password

if TYPE_CHECKING:
    from bot.config import StoreSettings

log = logging.getLogger(__name__)


class StoreUnavailable(RuntimeError):
    """The configured store cannot be opened (server down, wrong credentials, a folder that cannot
    be created): commands say so in one line instead of a page of traceback."""


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
        reason = str(exc) or type(exc).__name__
        if shows_password(reason, settings.url):
            # A driver may quote the URL's pieces ("invalid literal for int(): 's3cr'" when an
            # unescaped "/" in the password cut it short): none of it is printed.
            reason = f"{type(exc).__name__} (is the password in the URL percent-encoded?)"
        else:
            log.debug("cannot open the store", exc_info=True)
        raise StoreUnavailable(f"cannot open the store at {without_password(settings.url)}: {reason}") from exc
