"""The one error every LLM backend raises when the model cannot answer at all.

Busy (:class:`bot.ml.LLMBusyError`) and slow (``TimeoutError``) are passing states with their own
replies; this one covers the rest: a model server that cannot be reached, answers an HTTP error,
or sends something that is not a chat completion, and a local model that fails to load or to
generate. Callers catch it, log its message once and tell the member plainly; it is never a bug
in the caller, so it carries no traceback worth showing a member or a terminal.

This module imports nothing heavy, so the QA brain can catch the error without loading a backend.
"""

from __future__ import annotations


class LLMUnavailableError(RuntimeError):
    """The answering model is unavailable or answered nonsense.

    The message says why, for the log: the server URL (without credentials), the HTTP status and
    the first bytes of the body, or the local model and the error that stopped it. It is one line.
    A ``RuntimeError`` so that code written against the earlier backends' errors still catches it.
    """


__all__ = ["LLMUnavailableError"]
