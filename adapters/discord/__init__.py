"""Discord adapter: discord.py gateway events, slash commands, rendering and backfill."""
