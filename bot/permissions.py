"""The one place that decides who may run admin commands, on every platform.

Adapters gather facts (Discord: the member's Manage Server permission and role ids; Slack:
``is_admin`` / ``is_owner`` from ``users.info`` and user-group membership, passed as role ids;
console: the local operator) and put them on :class:`~bot.events.CommandInvoked`. This module turns
those facts plus configuration into a yes/no.
"""

from __future__ import annotations

from bot.config import Settings
from bot.events import ButtonClicked, CommandInvoked, Platform

# The workspace of Discord DMs with the bot (``adapters.discord.normalize.DM_WORKSPACE``: the core
# never imports adapters; a test keeps the two equal).
DISCORD_DM_WORKSPACE = "@me"


def is_admin(cmd: CommandInvoked | ButtonClicked, settings: Settings) -> bool:
    """True if the invoker may run admin commands (or press an admin's button)."""
    if cmd.user.external:
        # A member of another organisation in a Slack Connect channel: ``users.info`` answers for
        # their own workspace (they may well be an admin there), and a user group of ours cannot
        # make them one of this workspace.
        return False
    if cmd.is_platform_admin:
        return True
    roles = set(cmd.role_ids)
    if cmd.platform is Platform.DISCORD:
        # In a DM the adapter passes the member's roles in every guild shared with the bot (they
        # open role-gated channels for /ask): an admin role of one guild must not make its holder an
        # admin of the DM workspace, which all members' DMs with the bot share.
        if cmd.channel.workspace_id == DISCORD_DM_WORKSPACE:
            return False
        return bool(roles & set(settings.discord.admin_role_ids))
    if cmd.platform is Platform.SLACK:
        return bool(roles & set(settings.slack.admin_usergroup_ids))
    return False


def admin_rights_unknown(cmd: CommandInvoked, settings: Settings) -> bool:
    """True if the invoker is no admin by the facts known, but the platform could not say whether
    it makes them one (``is_platform_admin is None``: Slack's ``users.info`` or an admin group
    lookup failed). Such a command is neither run nor refused: the member is asked to try again.
    A member of another organisation (Slack Connect) is refused: no lookup could make them one."""
    return cmd.is_platform_admin is None and not cmd.user.external and not is_admin(cmd, settings)
