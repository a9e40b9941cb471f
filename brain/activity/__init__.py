"""Activity brain: helpfulness leaderboards, trend and health alerts, charts."""
