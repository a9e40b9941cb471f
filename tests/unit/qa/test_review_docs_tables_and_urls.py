"""Docs indexing review: table cells stay separate words; a URL named on the command line is
refused with where URLs go, not reported as a mangled path."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from brain.qa.access import public_everywhere
from brain.qa.bm25 import BM25Index
from brain.qa.docs import DocSource, doc_units, html_to_markdown
from brain.qa.tokenize import tokenize

SETTINGS_TABLE = (
    "<h1>Configuration</h1><table><tr><th>Setting</th><th>Default</th></tr>"
    "<tr><td>max_retries</td><td>3</td></tr><tr><td>timeout</td><td>30</td></tr></table>"
)


def test_cells_of_a_row_are_separate_words() -> None:
    md = html_to_markdown(SETTINGS_TABLE)
    assert md == "# Configuration\n\nSetting | Default\nmax_retries | 3\ntimeout | 30"
    # Glued, the row was the one token "max_retries3", which no query for the setting matches.
    assert set(tokenize("Setting Default max_retries 3 timeout 30")) <= set(tokenize(md))


def test_a_setting_in_a_docs_table_is_found_by_its_name() -> None:
    index = BM25Index()
    index.add(doc_units(DocSource("config.html", "/docs/config.html", SETTINGS_TABLE, "html")))
    hits = index.search("max_retries", scope=public_everywhere())
    assert [hit.unit.url for hit in hits] == ["/docs/config.html"]
    assert "max_retries | 3" in hits[0].unit.text


@pytest.mark.parametrize(
    ("html", "md"),
    [
        # Text after a table starts a line of its own instead of ending its last cell.
        ("<table><tr><td>name<td>kind</table>notes", "name | kind\nnotes"),
        # A cell after text that already ends in a space or a line break adds nothing.
        ("<table>\n  <tr>\n    <td>a</td> <td>b</td>\n  </tr>\n</table>", "a b"),
    ],
)
def test_table_text_keeps_its_words_apart(html: str, md: str) -> None:
    assert html_to_markdown(html) == md


@pytest.mark.parametrize("url", ["https://x/faq", "http://docs.example.org/guide.html"])
def test_a_url_argument_is_refused_with_where_urls_go(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Refused before the store opens; were it not, the store and index would be created here.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GUILDHALL_STORE__URL", f"sqlite:///{tmp_path / 'g.db'}")
    monkeypatch.setenv("GUILDHALL_VECTORS__PATH", str(tmp_path / "chroma"))
    out = CliRunner().invoke(app, ["index", "docs", url])
    text = " ".join(out.output.replace("│", " ").split())  # the error box wraps its lines
    assert out.exit_code == 2, out.output
    assert f"{url} is a URL" in text and "URL-list file (.list or .urls" in text
    # Before, pathlib had collapsed the URL's "//" into a path that "was not found".
    assert "not found" not in text and url.replace("//", "/") not in text
    assert list(tmp_path.iterdir()) == []
