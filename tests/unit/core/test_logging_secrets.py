"""The secret-masking log handler: tokens never reach a log line, tracebacks included."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.logging_setup import configure

TOKEN = "xoxb-1234567890-abcdefghijkl"


@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    configure("INFO", stream=stream, known_secrets=["hunter2-literal"])
    yield stream
    root.handlers[:], root.level = saved


def test_a_token_in_an_exception_is_masked_in_the_traceback(log_text: io.StringIO) -> None:
    # log.exception() of an error whose text held a token (a webhook URL, an echoed request)
    # printed the token: only the message was masked, not the formatted traceback.
    try:
        raise RuntimeError(f"POST https://hooks.example/{TOKEN} failed; password hunter2-literal")
    except RuntimeError:
        logging.getLogger("guildhall.test").exception("sending %s failed", TOKEN)
    text = log_text.getvalue()
    assert "RuntimeError: POST https://hooks.example/[secret] failed; password [secret]" in text
    assert "sending [secret] failed" in text
    assert TOKEN not in text and "hunter2-literal" not in text


def test_guildhall_run_masks_the_configured_secrets_literally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A Slack signing secret or an OpenAI-compatible key has no token shape: the filter never
    # learned the configured values, so a log line quoting one printed it.
    from bot.cli_support import setup_logging
    from bot.config import load_settings

    cfg = tmp_path / "guildhall.toml"
    cfg.write_text("")
    settings = load_settings(cfg, environ={"SLACK_SIGNING_SECRET": "8f14e45fceea167a5a36dedd4bea2543"})
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        setup_logging("INFO", settings)
        logging.getLogger("guildhall.test").warning("bad signature with secret %s", "8f14e45fceea167a5a36dedd4bea2543")
    finally:
        root.handlers[:], root.level = saved
    err = capsys.readouterr().err
    assert "bad signature with secret [secret]" in err
    assert "8f14e45fceea167a5a36dedd4bea2543" not in err
