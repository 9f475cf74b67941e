"""A learned linear map on query vectors (the passages' vectors stay as they are).

bge-small-zh was trained on general Chinese text; residents' questions and the wording of statutes are
far apart ("房东不退押金" against "出租人…返还"). A low-rank correction q' = normalise(q + q·U·V), fitted so that
the articles a lawyer chose score above their nearest competitors, moves the question's vector towards the
statutes' wording. It is applied at half strength (the vector goes half way from the plain to the fully
adapted one): at full strength it won most on the STARD questions it was fitted to the style of, but
pushed residents' everyday wording down (邻居装修噪音太大 → 噪声污染防治法第六十六条 fell from 1st to 40th
on the test KB); half way keeps those and most of the gain. Only the query side changes, so the stored article vectors need no re-embedding and
both backends use it unchanged.

The adapter shipped in corpus/adapters/ is trained by `benchmarks/train_adapter.py` on the STARD dev
questions and the LawRefBook KB's article vectors; docs/measurements.md gives its cross-validated figures. An
adapter is tied to the exact model file it was trained for (its model_id) and is never applied to another.
It also carries the fusion weights chosen with it, since the adapted dense list deserves more weight.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .shipped import choose, shipped_folder

SHIPPED = shipped_folder("adapters")


class QueryAdapter:
    def __init__(self, u: np.ndarray, v: np.ndarray, meta: dict, path: Path | None = None) -> None:
        if u.ndim != 2 or v.shape != (u.shape[1], u.shape[0]):
            raise ValueError(f"adapter matrices of shapes {u.shape} and {v.shape} do not fit together")
        self.u, self.v = u.astype(np.float32), v.astype(np.float32)
        self.meta, self.path = meta, path

    @property
    def model_id(self) -> str:
        return self.meta["model_id"]

    @property
    def dim(self) -> int:
        return self.u.shape[0]

    @property
    def strength(self) -> float:
        return float(self.meta.get("strength", 1.0))

    def __call__(self, qv: np.ndarray) -> np.ndarray:
        """normalise(q + s·(normalise(q + q·U·V) − q)), s = strength: part way from the plain vector to
        the fully adapted one."""
        full = _unit(qv + (qv @ self.u) @ self.v)
        return _unit(qv + self.strength * (full - qv)).astype(np.float32)

    @classmethod
    def load(cls, path: str | Path) -> QueryAdapter:
        path = Path(path)
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            return cls(z["u"], z["v"], meta, path)

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, u=self.u, v=self.v, meta=np.array(json.dumps(self.meta, ensure_ascii=False)))
        tmp.replace(path)


def _unit(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norm == 0, 1, norm)


class AdaptedEncoder:
    """An encoder whose query vectors go through an adapter; passages, model_id and the rest are the
    wrapped encoder's, so stored vectors stay valid."""

    def __init__(self, encoder, adapter: QueryAdapter) -> None:
        self.inner, self.adapter = encoder, adapter
        chosen = {k: adapter.meta.get(k) for k in ("dense_weight", "prior_weight")}
        self.profile = encoder.profile.with_(**{k: v for k, v in chosen.items() if v is not None})

    def encode_query(self, text: str) -> np.ndarray:
        return self.adapter(self.inner.encode_query(text))

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"AdaptedEncoder({self.inner!r}, adapter={self.adapter.path.name if self.adapter.path else '?'})"


def find_adapter(model_id: str, choice: str | None = None) -> QueryAdapter | None:
    """The adapter for model_id under the query_adapter setting: 'auto' (a shipped adapter trained for
    exactly this model, if any), 'none', or a path to an adapter file (KBError, with the reason, if it
    cannot be read or was trained for another model)."""
    def mismatch(adapter: QueryAdapter) -> str | None:
        return None if adapter.model_id == model_id else f"trained for {adapter.model_id}, not for {model_id}"

    return choose("query_adapter", choice, SHIPPED, QueryAdapter.load, mismatch, "adapter file")


def with_adapter(encoder, choice: str | None = None):
    """encoder, wrapped with its adapter when one applies."""
    # a tuned encoder (QuerySide keeps the plain model's id) has its own questions' side: no adapter on top
    if encoder is None or isinstance(encoder, AdaptedEncoder) or getattr(encoder, "tuning", None):
        return encoder
    adapter = find_adapter(encoder.model_id, choice)
    return AdaptedEncoder(encoder, adapter) if adapter is not None else encoder
