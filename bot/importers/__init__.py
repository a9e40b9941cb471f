"""History importers: platform exports become the same events as live traffic.

* :func:`bot.importers.slack_export.import_slack_export` — a Slack workspace export (folder or zip);
* :func:`bot.importers.discord_export.import_discord_export` — DiscordChatExporter JSON files.

Both validate one file at a time before publishing any of its events (a malformed file is reported
with its name and reason and skipped whole; nothing is half-written) and return an
:class:`~bot.importers.summary.ImportSummary`.
"""

from bot.importers.summary import ImportSummary

__all__ = ["ImportSummary"]
