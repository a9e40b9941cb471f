"""Parse an export's JSON file, turning every way it can be bad into one readable line."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

# A bytes literal inside an exception message (zipfile quotes a damaged header's raw bytes, kilobytes
# of them); escapes are skipped so a quote inside the literal does not end it.
_BYTES_LITERAL = re.compile(r"""b'(?:[^'\\]|\\.)*'|b"(?:[^"\\]|\\.)*\"""", re.DOTALL)
REASON_CHARS = 200


class BadJSON(ValueError):
    """A file is not JSON this importer can read; ``str()`` is a one-line reason."""


def parse_json(raw: bytes) -> Any:
    """``json.loads`` that raises only :class:`BadJSON` for bad input.

    Besides syntax and encoding errors, Python's parser refuses integers longer than
    ``sys.get_int_max_str_digits()`` with a plain ``ValueError`` and deeply nested arrays or objects
    with ``RecursionError``: a hostile or damaged export must be a bad file, not a crash.
    """
    try:
        return json.loads(raw)
    except RecursionError as exc:
        raise BadJSON("invalid JSON (nested too deeply)") from exc
    except UnicodeDecodeError as exc:
        raise BadJSON(f"invalid JSON (not UTF-8: {one_line(exc)})") from exc
    except json.JSONDecodeError as exc:
        raise BadJSON(f"invalid JSON ({one_line(exc)})") from exc
    except ValueError as exc:
        # The int-digits limit; its message suggests sys.set_int_max_str_digits, which is no help here.
        limit = sys.get_int_max_str_digits()
        raise BadJSON(f"invalid JSON (a number longer than {limit} digits)") from exc


def one_line(exc: BaseException, limit: int = REASON_CHARS) -> str:
    """``exc``'s message on one line, with raw bytes left out and at most ``limit`` characters."""
    text = _BYTES_LITERAL.sub("b'…'", str(exc))
    text = " ".join(text.split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
