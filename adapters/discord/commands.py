"""Slash commands as a discord.py ``app_commands.CommandTree``.

Every command does the same two things: ``defer()`` at once (Discord drops interactions that are
not acknowledged within 3 seconds, and answers may need an LLM) and hand the invocation to the
adapter, which publishes :class:`bot.events.CommandInvoked`. Brains answer through the command
router; the adapter sends their :class:`bot.events.CommandReply` as the interaction's follow-up.

The admin group carries ``default_permissions(manage_guild=True)`` so Discord hides it from members
without Manage Server; that is only a default server admins can change, so the router re-checks
``is_platform_admin`` at run time (:mod:`bot.permissions`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

import discord
from discord import app_commands

Options = list[tuple[str, str]]
OnInvoke = Callable[[discord.Interaction, str, Options, str], Awaitable[None]]

# Commands deferred publicly: their answers are for everyone in the channel unless the brain says
# otherwise (a private channel's board; the adapter then keeps that reply private). /trends is not
# one: the activity brain always answers it privately (its findings are not posted where a guest or
# another organisation might read them), so a public defer only left a "thinking..." message
# turned into a note in the channel.
PUBLIC_COMMANDS = frozenset({"ask", "leaderboard"})
Period = Literal["week", "month", "all"]
OnOff = Literal["on", "off"]
DigestSetting = Literal["default", "time", "size", "send-now"]
ConfigAction = Literal["show", "set", "unset"]
# Channel options offer only the kinds of channel the brain can use. A board counts a forum's (or
# media channel's) posts under the forum, so /leaderboard takes forums, the usual help channels;
# alerts are plain posts, which a forum cannot take, so the alerts channel stays a text (or
# announcement) channel.
BoardChannel = discord.TextChannel | discord.ForumChannel
AlertsChannel = discord.TextChannel


def build_tree(client: discord.Client, on_invoke: OnInvoke) -> app_commands.CommandTree[discord.Client]:
    """Create the command tree on ``client`` with Guildhall's commands.

    Each command hands over its named options and the ``text`` a member would have typed after the
    command on Slack (``daily on``, ``set KEY VALUE``), so brains parse one argument syntax on every
    platform. Options that brains read by name (``/leaderboard``'s period and channel) are not
    repeated in the text.

    Args:
        client: the discord.py client (one tree per client).
        on_invoke: called after the interaction was deferred, with the command path, options, text.
    """
    tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(client)

    async def run(interaction: discord.Interaction, name: str, options: Options, text: str | None = None) -> None:
        await interaction.response.defer(ephemeral=name not in PUBLIC_COMMANDS, thinking=True)
        options = [(k, v) for k, v in options if v]
        await on_invoke(interaction, name, options, command_text(options) if text is None else text)

    @tree.command(name="ask", description="Ask a question; the answer cites our history")
    @app_commands.describe(question="What do you want to know?")
    async def ask(interaction: discord.Interaction, question: app_commands.Range[str, 1, 1000]) -> None:
        await run(interaction, "ask", [("question", question)])

    @tree.command(name="recommend", description="Threads you might like")
    @app_commands.describe(
        daily="Turn your daily digest of recommendations on or off",
        # Discord tells bots no member's time zone: the member names it.
        tz="Your time zone for the digest: Area/City (Europe/Berlin), show or reset",
    )
    async def recommend(
        interaction: discord.Interaction, daily: OnOff | None = None, tz: app_commands.Range[str, 1, 64] | None = None
    ) -> None:
        text = f"daily {daily}" if daily else f"tz {tz.strip()}" if tz else ""
        await run(interaction, "recommend", [("daily", daily or ""), ("tz", tz or "")], text)

    @tree.command(name="leaderboard", description="Most helpful members")
    @app_commands.describe(period="Time window (default: week)", channel="Only this channel")
    async def leaderboard(
        interaction: discord.Interaction, period: Period | None = None, channel: BoardChannel | None = None
    ) -> None:
        options = [("period", period or ""), ("channel", str(channel.id) if channel else "")]
        await run(interaction, "leaderboard", options, "")

    @tree.command(name="trends", description="Current topic bursts and community health signals")
    async def trends(interaction: discord.Interaction) -> None:
        await run(interaction, "trends", [])

    @tree.command(name="experts", description="Who answered questions like this before (nobody is pinged)")
    @app_commands.describe(topic="What you need help with")
    async def experts(interaction: discord.Interaction, topic: app_commands.Range[str, 3, 200]) -> None:
        await run(interaction, "experts", [("topic", topic)])

    @tree.command(name="optout", description="Stop Guildhall from indexing, profiling or ranking your messages")
    async def optout(interaction: discord.Interaction) -> None:
        await run(interaction, "optout", [])

    @tree.command(name="optin", description="Let Guildhall learn from your messages again")
    async def optin(interaction: discord.Interaction) -> None:
        await run(interaction, "optin", [])

    @tree.command(name="forget-me", description="Erase everything Guildhall stored about you")
    @app_commands.describe(confirm="True to erase your data now (it cannot be undone)")
    async def forget_me(interaction: discord.Interaction, confirm: bool = False) -> None:
        await run(interaction, "forget-me", [("confirm", "yes" if confirm else "")], "confirm" if confirm else "")

    @tree.command(name="help", description="What Guildhall can do and how to use it")
    async def help_(interaction: discord.Interaction) -> None:
        await run(interaction, "help", [])

    admin = app_commands.Group(
        name="guildhall",
        description="Guildhall administration",
        default_permissions=discord.Permissions(manage_guild=True),
        guild_only=True,
    )

    @admin.command(name="index", description="Rebuild the question-answering index")
    async def index(interaction: discord.Interaction, scope: Literal["all"] | None = None) -> None:
        await run(interaction, "guildhall index", [("scope", scope or "")])

    @admin.command(name="config", description="Show or change settings")
    @app_commands.describe(
        action="show, set KEY VALUE, or unset KEY (back to the default)", key="Setting name", value="New value"
    )
    async def config(
        interaction: discord.Interaction,
        action: ConfigAction = "show",
        key: str | None = None,
        value: str | None = None,
    ) -> None:
        await run(interaction, "guildhall config", [("action", action), ("key", key or ""), ("value", value or "")])

    @admin.command(
        name="alerts-channel", description="Where trend alerts go: alone it shows the channel; pick a channel to set it"
    )
    async def alerts_channel(interaction: discord.Interaction, channel: AlertsChannel | None = None) -> None:
        await run(interaction, "guildhall alerts-channel", [("channel", str(channel.id) if channel else "")], "")

    @admin.command(name="digest", description="Configure the daily recommendation digest")
    @app_commands.describe(
        setting="What to change (send-now: today's digest to members who have not had it)",
        value="on|off, HH:MM, N, or 'again' with send-now to resend",
    )
    async def digest(interaction: discord.Interaction, setting: DigestSetting, value: str | None = None) -> None:
        await run(interaction, "guildhall digest", [("setting", setting), ("value", value or "")])

    @admin.command(name="status", description="What Guildhall knows and runs in this workspace")
    async def status(interaction: discord.Interaction) -> None:
        await run(interaction, "guildhall status", [])

    tree.add_command(admin)
    return tree


def command_text(options: Options) -> str:
    """The raw argument string brains parse (``set KEY VALUE``): option values in declared order."""
    return " ".join(v for _, v in options if v)
