"""Shipped fakes so every brain can be tested without a platform, a model or a network.

* :class:`FakeAdapter` - publishes inbound events and records the actions brains send;
* :class:`HashEmbedder` - deterministic bag-of-words hashing embedder (similar words, similar vectors);
* :class:`ScriptedLLM` - returns scripted answers and records prompts;
* :func:`make_message` and friends - compact event builders.
"""

from bot.testing.builders import channel, command, make_message, user
from bot.testing.fake_adapter import FakeAdapter
from bot.testing.fake_models import HashEmbedder, ScriptedLLM

__all__ = ["FakeAdapter", "HashEmbedder", "ScriptedLLM", "channel", "command", "make_message", "user"]
