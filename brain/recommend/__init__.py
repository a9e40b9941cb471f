"""Recommender brain: daily personal thread and channel recommendations."""
