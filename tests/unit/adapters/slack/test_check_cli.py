"""``guildhall slack check``: a Web API it cannot reach, or one that never answers, is one line and a
non-zero exit, not aiohttp's 300-line traceback; a working token still says who the bot is."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner, Result

from bot.cli import app as cli_app


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers a request."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield int(s.getsockname()[1])


def _check(monkeypatch: pytest.MonkeyPatch, base_url: str, *args: str) -> Result:
    monkeypatch.setenv("GUILDHALL_CONFIG", os.devnull)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("GUILDHALL_SLACK__API_BASE_URL", base_url)
    return CliRunner().invoke(cli_app, ["slack", "check", *args])


def test_an_unreachable_web_api_is_one_line_and_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/api/"
    result = _check(monkeypatch, url)
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"slack: check failed: cannot reach the Slack Web API at {url} (")
    assert len(result.output.splitlines()) == 1 and "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_a_web_api_that_never_answers_times_out_in_one_line(monkeypatch: pytest.MonkeyPatch, silent_port: int) -> None:
    url = f"http://127.0.0.1:{silent_port}/api/"
    result = _check(monkeypatch, url, "--timeout", "1")
    assert result.exit_code == 1, result.output
    assert result.output == f"slack: check failed: the Slack Web API at {url} did not answer within 1 s\n"


def test_json_output_says_why_it_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/api/"
    result = _check(monkeypatch, url, "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["error"].startswith(f"cannot reach the Slack Web API at {url}")


async def test_a_working_token_still_names_the_bot(monkeypatch: pytest.MonkeyPatch) -> None:
    # The fake Web API runs on this test's loop; the command's own loop runs in a worker thread.
    import asyncio

    from tests.slack_fakes import BOT_USER_ID, TEAM_ID, FakeSlackAPI

    fake = await FakeSlackAPI().start()
    try:
        result = await asyncio.to_thread(_check, monkeypatch, fake.url)
    finally:
        await fake.stop()
    assert result.exit_code == 0, result.output
    assert result.output == f"ok: team {TEAM_ID} as <@{BOT_USER_ID}>\n"
