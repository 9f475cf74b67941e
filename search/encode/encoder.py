"""The Encoder contract: what search needs from an embedding model.

``model_id`` is the identity stored with every vector (e.g. ``bge-small-zh-v1.5/model-int8.onnx@15b717c382bc``:
folder/file@first 12 hex digits of the file's SHA-256); ``dim`` its width; ``encode_passages`` gives
L2-normalised float32 rows in input order; ``encode_query`` one vector with the model's query prefix.
Cosine similarity is the dot product. ``profile`` is the ranking profile the model was tuned with
(search/profile.py), set by resolution (resolve.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

from lawkb.search.profile import RankingProfile

BGE_ZH_QUERY_PREFIX = "为这个句子生成表示以用于检索相关文章："

Progress = Callable[[int, int], None]


@runtime_checkable
class Encoder(Protocol):
    """What search needs from an embedding model."""

    model_id: str
    dim: int
    profile: RankingProfile

    def encode_passages(self, texts: list[str], batch_size: int = 32,
                        progress: Progress | None = None) -> np.ndarray:
        """float32 array len(texts) x dim, each row L2-normalised, rows in input order."""

    def encode_query(self, text: str) -> np.ndarray:
        """float32 vector of length dim, L2-normalised, with the model's query prefix applied."""



def normalise_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0).astype(np.float32)


def clean_texts(texts) -> list[str]:
    return ["" if t is None else str(t) for t in texts]

