"""Blank-letter messages make no unit; only a gateway's 502/503/504 page is the vector index being
unavailable, other HTTP errors of a Chroma server stay errors."""

from __future__ import annotations

import httpx
import pytest

from bot.store import MessageRow
from brain.qa.units import is_indexable
from brain.qa.vector_index import _unreachable


@pytest.mark.parametrize("blank", ["\u3164", "\u2800\u2800", "\uffa0", "\u115f\u1160", "\u034f", " \u3164 \u200b "])
def test_a_message_of_only_blank_letters_makes_no_unit(blank: str) -> None:
    assert not is_indexable(_row(blank))


def test_a_message_with_a_word_among_blank_letters_is_indexed() -> None:
    assert is_indexable(_row("\u3164 pip install \u2800"))


def _row(text: str) -> MessageRow:
    return MessageRow("slack", "W1", "C1:1.0", "C1", "U1", 1.0, text)


def _chroma_style_error(status: int) -> Exception:
    """What chromadb's HTTP client raises for a response with no Chroma error in its body."""
    request = httpx.Request("POST", "http://chroma:8000/api/v2/x")
    response = httpx.Response(status, text="<html>error page</html>", request=request)
    try:
        try:
            response.raise_for_status()
        except httpx.HTTPStatusError:
            raise Exception(response.text)  # noqa: B904 - as chromadb raises it
    except Exception as exc:
        return exc
    raise AssertionError("not raised")


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_gateway_error_page_is_the_index_being_unavailable(status: int) -> None:
    assert _unreachable(_chroma_style_error(status))


@pytest.mark.parametrize("status", [400, 401, 404, 413, 500])
def test_other_http_errors_are_errors_not_an_outage(status: int) -> None:
    assert not _unreachable(_chroma_style_error(status))
    assert not _unreachable(Exception("a plain exception of no HTTP response"))
