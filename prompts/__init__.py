"""Prompt templates as data: ``prompts/<name>.txt`` files loaded by name.

Templates use :class:`string.Template` fields (``$question``, ``${context}``) because chat text is
full of ``{braces}`` (code, JSON) that ``str.format`` would choke on.

Example::

    from prompts import load_prompt, render_prompt
    system = load_prompt("qa_system")
    user = render_prompt("qa_answer", question=q, context=blocks)
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from string import Template

_NAME = re.compile(r"^[a-z0-9_]+$")


class PromptNotFoundError(KeyError):
    """No template of that name ships in ``prompts/``."""


@cache
def load_prompt(name: str) -> str:
    """The text of ``prompts/<name>.txt`` (trailing newline removed).

    Raises:
        PromptNotFoundError: for an unknown or malformed name.
    """
    if not _NAME.match(name):
        raise PromptNotFoundError(f"invalid prompt name {name!r}")
    path = resources.files(__package__).joinpath(f"{name}.txt")
    if not path.is_file():
        raise PromptNotFoundError(f"no prompt template {name!r} in prompts/")
    return path.read_text(encoding="utf-8").rstrip("\n")


def render_prompt(name: str, **fields: object) -> str:
    """Fill ``prompts/<name>.txt`` with ``fields`` (missing fields raise KeyError)."""
    return Template(load_prompt(name)).substitute({k: str(v) for k, v in fields.items()})
