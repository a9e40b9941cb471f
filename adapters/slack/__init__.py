"""Slack adapter (Bolt for Python): see README.md in this folder."""
