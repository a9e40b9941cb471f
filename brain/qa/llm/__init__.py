"""LLM backends behind :class:`bot.ml.LLM`: local transformers (micro-batched), OpenAI-compatible, scripted."""
