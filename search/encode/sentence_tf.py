"""Any sentence-transformers model (local directory or Hugging Face name); needs ``pip install 'lawkb[st]'``,
which pulls PyTorch, so it is imported only when such a model is asked for."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

from lawkb.search.profile import PLAIN

from .encoder import BGE_ZH_QUERY_PREFIX, Progress, clean_texts
from .files import file_sha256

_AUTO = object()


def sentence_transformers_available() -> bool:
    try:
        return importlib.util.find_spec("sentence_transformers") is not None
    except ValueError:  # in sys.modules without a spec (a stand-in)
        return True


def default_query_prefix(name_or_path: str) -> str:
    """The bge Chinese query instruction for bge-*-zh models, nothing for others."""
    name = str(name_or_path).lower()
    return BGE_ZH_QUERY_PREFIX if ("bge" in name and "zh" in name) else ""


class SentenceTransformerEncoder:
    """A sentence-transformers model (imported only when built). ``query_prefix`` defaults to the bge
    Chinese instruction when the name contains 'bge' and 'zh', else the model's own 'query' prompt if its
    config declares one, else nothing."""

    def __init__(self, name_or_path: str | os.PathLike, device: str | None = None, *,
                 query_prefix=_AUTO, max_length: int | None = None, local_files_only: bool = False):
        from sentence_transformers import SentenceTransformer

        self.name = str(name_or_path)
        if local_files_only:
            try:
                self.model = SentenceTransformer(self.name, device=device, local_files_only=True)
            except TypeError:  # sentence-transformers before 3.0 has no local_files_only
                self.model = SentenceTransformer(self.name, device=device)
        else:
            self.model = SentenceTransformer(self.name, device=device)
        if max_length:
            self.model.max_seq_length = int(max_length)
        if query_prefix is _AUTO:
            query_prefix = default_query_prefix(self.name) or (getattr(self.model, "prompts", None) or {}).get(
                "query", "")
        self.query_prefix = query_prefix or ""
        # Renamed in sentence-transformers 6; the old name warns there.
        dim_of = (getattr(self.model, "get_embedding_dimension", None)
                  or self.model.get_sentence_embedding_dimension)
        self.dim = int(dim_of())
        self.profile = PLAIN
        self.model_id = self._identity(Path(self.name).expanduser())

    def _identity(self, path: Path) -> str:
        if not path.is_dir():
            return f"hf:{self.name}"
        for weights in ("model.safetensors", "pytorch_model.bin", "0_Transformer/model.safetensors",
                        "0_Transformer/pytorch_model.bin"):
            if (path / weights).is_file():
                return f"{path.resolve().name}/{weights}@{file_sha256(path / weights)[:12]}"
        return path.resolve().name

    def __repr__(self) -> str:
        return f"SentenceTransformerEncoder({self.model_id!r}, dim={self.dim})"

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        out = self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32).reshape(len(texts), self.dim)

    def encode_passages(self, texts: list[str], batch_size: int = 32,
                        progress: Progress | None = None) -> np.ndarray:
        texts = clean_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if progress is None:
            return self._encode(texts, batch_size)
        # sentence-transformers sorts by length inside each call; chunks keep that and allow progress.
        chunk = max(1, batch_size) * 16
        parts = []
        for start in range(0, len(texts), chunk):
            parts.append(self._encode(texts[start:start + chunk], batch_size))
            progress(min(start + chunk, len(texts)), len(texts))
        return np.concatenate(parts)

    def encode_query(self, text: str) -> np.ndarray:
        return self._encode([self.query_prefix + ("" if text is None else str(text))], 1)[0]

