"""A stamp in the store that moves whenever the indexed docs change.

Docs units live in the shared vector store, but each process holds its own lexical (BM25) copy of
them, filled when its index loads. ``guildhall index docs`` in another shell, or another worker,
changes the vector store only: every writer of docs units stamps the store afterwards
(:func:`bump_docs_generation`), and each process compares the stamp with the one it loaded
(:func:`docs_generation`, one indexed read) before it searches, reloading its docs units when it
moved. A random token rather than a counter: writers never read-modify-write it, so two of them
at once cannot lose a change; both leave a new token that every reader has not seen.
"""

from __future__ import annotations

import uuid

from bot.store import Store
from brain.qa.access import DOCS_PLATFORM

DOCS_GENERATION_KEY = "qa.docs_generation"


async def docs_generation(store: Store) -> str:
    """The current stamp ("" before docs were ever indexed)."""
    return str(await store.get_workspace_setting(DOCS_PLATFORM, DOCS_PLATFORM, DOCS_GENERATION_KEY, ""))


async def bump_docs_generation(store: Store) -> str:
    """Record that the indexed docs changed (call after the vector store holds the change)."""
    token = uuid.uuid4().hex
    await store.set_workspace_setting(DOCS_PLATFORM, DOCS_PLATFORM, DOCS_GENERATION_KEY, token)
    return token
