"""Logging configuration with a filter that masks secrets in every record."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TextIO

# Token shapes that must never reach a log line, whatever code logged them.
SECRET_PATTERNS = [
    re.compile(r"xox[abposr]-[A-Za-z0-9-]{8,}"),  # Slack bot/user/app tokens
    re.compile(r"xapp-\d-[A-Za-z0-9-]{8,}"),  # Slack app-level tokens
    re.compile(r"[MNO][A-Za-z\d_-]{23,25}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,38}"),  # Discord bot tokens
    re.compile(r"sk-[A-Za-z0-9_-]{16,}"),  # OpenAI-style API keys
    re.compile(r"(?:AKIA|ASIA)[0-9A-Z]{16}"),  # AWS access key ids
    re.compile(r"gh[pousr]_[A-Za-z0-9]{30,}"),  # GitHub tokens
]


def mask_secrets(text: str, extra: list[str] | None = None) -> str:
    """Replace token-shaped substrings (and any literal ``extra`` secrets) with ``[secret]``."""
    for pattern in SECRET_PATTERNS:
        text = pattern.sub("[secret]", text)
    for secret in extra or []:
        if secret:
            text = text.replace(secret, "[secret]")
    return text


class SecretFilter(logging.Filter):
    """Masks secrets in the formatted message of every record passing through a handler."""

    def __init__(self, known_secrets: list[str] | None = None) -> None:
        super().__init__()
        self.known_secrets = [s for s in (known_secrets or []) if s]

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format call ("%s" without its argument)
            # Let the record through: the handler's format fails the same way and
            # Handler.handleError reports it (to stderr) without raising at the log call's site,
            # which a filter raising here would do (a handler's answer lost to a typo in a log line).
            # handleError prints the arguments: masked (as reprs), as the message would have been.
            if isinstance(record.args, tuple):
                record.args = tuple(mask_secrets(repr(arg), self.known_secrets) for arg in record.args)
            if isinstance(record.msg, str):
                record.msg = mask_secrets(record.msg, self.known_secrets)
            return True
        masked = mask_secrets(message, self.known_secrets)
        if masked != message:
            record.msg = masked
            record.args = None
        # A traceback is formatted apart from the message: an exception whose text holds a token (a
        # webhook URL, an echoed request) reached the log unmasked. Formatters reuse exc_text.
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text, self.known_secrets)
        if record.stack_info:
            record.stack_info = mask_secrets(record.stack_info, self.known_secrets)
        return True


def configure(
    level: str = "INFO",
    *,
    stream: TextIO | None = None,
    known_secrets: list[str] | None = None,
    log_file: Path | None = None,
    stream_level: str = "WARNING",
) -> SecretFilter:
    """Install a stderr handler with the secret filter on the root logger.

    Args:
        level: The root log level.
        stream: Where the handler writes (default stderr).
        known_secrets: Literal secrets to mask besides token shapes.
        log_file: Also log to this file (appended; its folder is created), with ``stream`` then
            showing only records at ``stream_level`` and above: on the console the screen is the
            chat, and INFO lines (a model loading) landed in it, on the prompt.
        stream_level: The stream's threshold when ``log_file`` is given.
    """
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    secret_filter = SecretFilter(known_secrets)
    handler = logging.StreamHandler(stream)
    handlers: list[logging.Handler] = [handler]
    failed: OSError | None = None
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            handlers.append(logging.FileHandler(log_file, encoding="utf-8", errors="backslashreplace"))
            handler.setLevel(stream_level.upper())
        except OSError as exc:  # everything still reaches the stream, as before
            failed = exc
    for each in handlers:
        each.setFormatter(formatter)
        each.addFilter(secret_filter)
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(level.upper())
    if failed is not None:
        logging.getLogger(__name__).warning("cannot log to %s (%s); logging to the screen", log_file, failed)
    return secret_filter
