"""The command path shared by every adapter: ``CommandInvoked`` in, ``CommandReply`` out.

Adapters ack the platform immediately (Discord ``defer()``, Slack ``ack()``) and publish a
:class:`~bot.events.CommandInvoked`; the router finds the handler a brain registered with
``@command``, checks admin rights in :mod:`bot.permissions`, audits admin actions, and answers
unknown commands and failures with a clear ephemeral message.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.brain import BrainContext, CommandResult, CommandSpec
from bot.dead_letters import failure_report
from bot.events import CommandInvoked, Platform
from bot.permissions import admin_rights_unknown, is_admin
from prompts import render_prompt

log = logging.getLogger(__name__)

Handler = Callable[[CommandInvoked], Awaitable[CommandResult | None]]

# Commands members type under another name on a platform than the one registered with the router.
# Slack keeps ``/help`` for its own help, so its manifest names ours ``/guildhall-help``; the Slack
# adapter maps it back (``adapters/slack/normalize.py`` COMMAND_ALIASES, the reverse of this table).
PLATFORM_COMMAND_NAMES: dict[Platform, dict[str, str]] = {Platform.SLACK: {"help": "guildhall-help"}}


def typed_command(platform: Platform, name: str) -> str:
    """``/name`` as a member types it on ``platform``: ``/guildhall-help`` for ``help`` on Slack."""
    return "/" + PLATFORM_COMMAND_NAMES.get(platform, {}).get(name, name)


# What an admin command's audit entry keeps of the text typed (Slack, the console: the arguments are
# the text): enough for any setting, not a wall of pasted text.
AUDITED_TEXT_CHARS = 300

# ``/guildhall config`` audits each change itself, by key, with the value before and after (ids, not
# the names typed): its entry here keeps the action and key only. A member list's value may name
# members by name, which their `/forget-me` could not find in the audit log.
SELF_AUDITED_TEXT_WORDS = {"guildhall config": 2}


def audit_detail(cmd: CommandInvoked, *, allowed: bool) -> dict[str, object]:
    """The detail of an admin command's audit entry: its options and channel, and what was typed.

    The privacy gate leaves admin commands' text unredacted (they carry settings: ids, names,
    times), so the text is kept only when the invoker is an admin: a refused member's text may be
    anything, and is not theirs to put in the audit log."""
    detail: dict[str, object] = {"options": dict(cmd.options), "channel": cmd.channel.channel_id}
    text = " ".join(cmd.text.split())
    if allowed and text:
        words = SELF_AUDITED_TEXT_WORDS.get(" ".join(cmd.name.lower().split()))
        if words is not None:
            text = " ".join(text.split()[:words])
        detail["text"] = text[:AUDITED_TEXT_CHARS]
    return detail


class CommandRouter:
    """Dispatches commands by name (longest registered prefix wins: ``guildhall config set``)."""

    def __init__(self, ctx: BrainContext) -> None:
        self._ctx = ctx
        self._handlers: dict[str, tuple[CommandSpec, Handler]] = {}

    def register(self, spec: CommandSpec, handler: Handler) -> None:
        """Add a command; names are case-insensitive and unique."""
        key = spec.name.lower()
        if key in self._handlers:
            raise ValueError(f"command /{spec.name} registered twice")
        self._handlers[key] = (spec, handler)

    @property
    def specs(self) -> list[CommandSpec]:
        """Registered commands, sorted by name."""
        return sorted((spec for spec, _ in self._handlers.values()), key=lambda s: s.name)

    def resolve(self, name: str) -> tuple[CommandSpec, Handler] | None:
        """The handler for a command name, or None."""
        key = " ".join(name.lower().split())
        while key:
            if key in self._handlers:
                return self._handlers[key]
            key = key.rpartition(" ")[0]
        return None

    async def handle(self, cmd: CommandInvoked) -> None:
        """Run a command and answer it; never raises."""
        found = self.resolve(cmd.name)
        if found is None:
            help_name = typed_command(cmd.platform, "help")
            text = render_prompt("core_unknown_command", command=cmd.name, help=help_name)
            # An unknown subcommand of a group (``/guildhall frobnicate``): name the group's commands.
            group = " ".join(cmd.name.lower().split()[:1]) + " "
            subcommands = [f"`/{s.name}`" for s in self.specs if s.name.lower().startswith(group)]
            if subcommands:
                text += " " + render_prompt("core_group_commands", group=group.strip(), commands=", ".join(subcommands))
            await self._ctx.answer(cmd, CommandResult(text))
            return
        spec, handler = found
        if spec.admin and admin_rights_unknown(cmd, self._ctx.settings):
            # Not audited as a refusal: nobody decided anything, the platform did not answer.
            log.warning("/%s not run: the invoker's admin rights are unknown (the platform lookup failed)", cmd.name)
            platform = cmd.platform.value.capitalize()
            text = render_prompt("core_admin_rights_unknown", platform=platform, command=spec.name)
            await self._ctx.answer(cmd, CommandResult(text))
            return
        if spec.admin:
            allowed = is_admin(cmd, self._ctx.settings)
            await self._ctx.store.audit(
                cmd.platform.value,
                cmd.channel.workspace_id,
                cmd.user.user_id,
                f"/{cmd.name}",
                allowed=allowed,
                detail=audit_detail(cmd, allowed=allowed),
            )
            if not allowed:
                await self._ctx.answer(cmd, CommandResult(render_prompt("core_admins_only", command=spec.name)))
                return
        try:
            result = await handler(cmd)
        except Exception as exc:  # noqa: BLE001 - the member gets a reply; operators the masked report
            # Masked (bot.dead_letters): the exception may quote the member's arguments.
            log.error("command /%s failed: %s", cmd.name, failure_report(exc, cmd))
            result = CommandResult(render_prompt("core_command_failed", command=cmd.name))
        if result is not None:
            await self._ctx.answer(cmd, result)
