"""Who the bot is in a workspace: ``auth.test`` -> :class:`~adapters.slack.normalize.SlackIdentity`."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.errors import log_api_error
from adapters.slack.normalize import SlackIdentity


async def fetch_identity(client: AsyncWebClient, team_id: str = "") -> SlackIdentity:
    """Ask ``auth.test`` for the bot's user id, bot id and workspace URL.

    When Slack refuses (``ok: false``: a revoked token, ``invalid_auth``), the error is logged and
    the identity carries only ``team_id``: events still normalize, but our own messages can then
    only be recognised by Bolt's self-event filter, and permalinks stay empty.

    Raises:
        aiohttp.ClientError, TimeoutError: Slack could not be reached or did not answer. Left to
            the caller, which alone knows whether that is worth a line (``guildhall slack check``,
            ``import slack``) or a retry at the next event (the adapter); swallowed here it would read
            as a refused token.
    """
    try:
        resp = await client.auth_test()
    except SlackApiError as exc:
        log_api_error("auth.test", exc, team=team_id)
        return SlackIdentity(team_id)
    return SlackIdentity(
        team_id=team_id or str(resp.get("team_id") or ""),
        bot_user_id=str(resp.get("user_id") or ""),
        bot_id=str(resp.get("bot_id") or ""),
        team_url=str(resp.get("url") or ""),
        team_name=str(resp.get("team") or ""),
    )
