"""Pick the LLM backend named in settings, and warm it up once at start."""

from __future__ import annotations

from bot.config import LLMSettings
from bot.ml import LLM


def create_llm(settings: LLMSettings) -> LLM:
    """Build (not load) the backend: ``transformers`` (local, micro-batched), ``openai`` or ``scripted``.

    Nothing heavy happens here: the local model loads on first use or in :func:`warmup`, so one
    instance can be registered in ``ctx.services["llm"]`` and shared by every brain.

    Args:
        settings: the ``[llm]`` section.

    Returns:
        An object implementing :class:`bot.ml.LLM` (plus ``warmup()`` and ``aclose()``).
    """
    if settings.backend == "openai":
        from brain.qa.llm.openai_backend import OpenAICompatibleLLM

        return OpenAICompatibleLLM(settings)
    if settings.backend == "scripted":
        from brain.qa.llm.scripted import ScriptedBackend

        return ScriptedBackend()
    from brain.qa.llm.transformers_backend import TransformersLLM

    return TransformersLLM(settings)


async def warmup(llm: LLM) -> None:
    """Load the model and run one tiny generation, so the first member doesn't pay the load time.

    Backends without a ``warmup()`` method (e.g. a test fake) are left alone.

    Args:
        llm: the shared backend instance.
    """
    hook = getattr(llm, "warmup", None)
    if hook is not None:
        await hook()
