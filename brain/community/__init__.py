"""Answering like a good community member: follow-ups, human first, solved threads, experts, shadow mode."""
