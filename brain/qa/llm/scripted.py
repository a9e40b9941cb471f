"""``llm.backend = "scripted"``: the shipped :class:`bot.testing.ScriptedLLM` behind the backend interface.

For demos and end-to-end tests that must run without any model: every question gets the same
fixed reply (``NOT_FOUND``, which the QA prompt defines as "the sources don't answer this"), so
the bot abstains politely instead of inventing an answer.
"""

from __future__ import annotations

from bot.testing import ScriptedLLM

DEFAULT_REPLY = "NOT_FOUND"


class ScriptedBackend(ScriptedLLM):
    """A :class:`ScriptedLLM` with the backend lifecycle hooks (no model to load or release)."""

    def __init__(self, reply: str = DEFAULT_REPLY) -> None:
        super().__init__(reply)

    async def warmup(self) -> None:
        """Nothing to load."""

    async def aclose(self) -> None:
        """Nothing to release."""
