"""Slack Web API ``ok: false`` errors -> one log line with a hint an operator can act on.

Slack reports problems as ``{"ok": false, "error": "not_in_channel"}``; slack-sdk raises
``SlackApiError``. None of them may crash the bot, and most have a fix that is not obvious from
the error code, so the hint says it.
"""

from __future__ import annotations

import logging

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

log = logging.getLogger("adapters.slack")

# A Web API call Slack never answered: the connection failed or timed out after slack_sdk's own
# retries, and aiohttp's errors (TimeoutError is an OSError) reach the caller unwrapped.
# SlackClientError is slack_sdk's base class, so catch SlackApiError (Slack's answer) first.
NO_ANSWER: tuple[type[Exception], ...] = (SlackClientError, aiohttp.ClientError, OSError)

# ``ok: false`` codes that say "not now" rather than anything about the request: asking again may work.
TRANSIENT_CODES = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"})

HINTS: dict[str, str] = {
    "not_in_channel": "invite the bot to the channel (/invite @guildhall) or add the chat:write.public scope",
    "channel_not_found": "the channel was deleted, is private and the bot is not a member, or belongs to another workspace",
    "is_archived": "the channel is archived; unarchive it or pick another channel",
    "missing_scope": "add the scope named in 'needed' to the app (see adapters/slack/manifest.yaml) and reinstall",
    "not_authed": "no token: set SLACK_BOT_TOKEN (single workspace) or install the app via OAuth",
    "invalid_auth": "the token is wrong or revoked: reinstall the app and update SLACK_BOT_TOKEN",
    "token_revoked": "the app was uninstalled from this workspace; reinstall it",
    "account_inactive": "the token belongs to a deactivated user or an uninstalled app",
    "user_not_found": "the member left the workspace or the id belongs to another workspace",
    "cannot_dm_bot": "bots cannot receive DMs; the action targeted a bot user",
    "user_disabled": "the member's account was deactivated; an admin can reactivate it",
    "user_not_visible": "the bot may not see this member (a guest or an external member)",
    "not_allowed_token_type": "the token is not a bot token (xoxb-...): set SLACK_BOT_TOKEN to the app's bot token",
    "msg_too_long": "the message exceeds Slack's limits; render.py should have split it (report a bug)",
    "msg_blocks_too_long": (
        "the text of the message's blocks adds up past Slack's total (about 12,000 characters); "
        "render.py should have split it (report a bug)"
    ),
    "invalid_blocks": "Block Kit rejected the blocks; see 'response_metadata' in the debug log",
    "ratelimited": "rate limited after retries; the action was dropped",
    "restricted_action": "a workspace admin restricted posting in this channel",
    "expired_url": "the slash command's response_url expired (30 minutes); answered with chat.postMessage instead",
    "no_such_subteam": "slack.admin_usergroup_ids names a user group (S…) that does not exist in this workspace",
    "used_url": "the response_url was already used 5 times",
}


def error_code(exc: SlackApiError) -> str:
    """The ``error`` field of a failed Web API call (``"unknown"`` if the body has none)."""
    data = getattr(exc.response, "data", None)
    if isinstance(data, dict):
        return str(data.get("error") or "unknown")
    return "unknown"


def hint_for(code: str) -> str:
    """The operator hint for an error code, or a generic pointer to Slack's docs."""
    return HINTS.get(code, "see https://api.slack.com/methods for the method's error list")


def log_api_error(method: str, exc: SlackApiError, **where: str) -> str:
    """Log a failed call at WARNING with its hint; returns the error code."""
    code = error_code(exc)
    data = getattr(exc.response, "data", None)
    needed = data.get("needed") if isinstance(data, dict) else None
    place = " ".join(f"{k}={v}" for k, v in where.items())
    extra = f" (needed: {needed})" if needed else ""
    log.warning(
        "slack %s failed: %s%s %s- hint: %s", method, code, extra, f"[{place}] " if place else "", hint_for(code)
    )
    return code


def log_no_answer(method: str, exc: BaseException, **where: str) -> None:
    """Log a call Slack never answered (connection failure, timeout) at WARNING."""
    place = " ".join(f"{k}={v}" for k, v in where.items())
    log.warning(
        "slack %s got no answer: %s: %s %s- the connection to Slack failed or timed out",
        method,
        type(exc).__name__,
        exc,
        f"[{place}] " if place else "",
    )
