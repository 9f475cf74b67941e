"""BM25F over pre-segmented text, held in numpy arrays.

Each document (article) has three fields: its text, its law's title and aliases, and its headings
(编/章/节). A term's weight in a document is BM25 with the field frequencies summed with boosts
(BM25F). Postings are stored term-major (CSR), so a query costs one vector add per query term.

Measured against SQLite FTS5 over the same segmented text (bm25() with column weights) on the 147k
LawRefBook KB: FTS5 p50 46 ms / p95 136 ms per query, these arrays a few milliseconds (see
docs/measurements.md); the arrays are what the embedded backend uses.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass
class BM25Params:
    k1: float = 1.2
    b: float = 0.75
    title_boost: float = 2.0
    path_boost: float = 0.5


class LexicalIndex:
    def __init__(self, terms: list[str], ptr: np.ndarray, docs: np.ndarray, weights: np.ndarray,
                 idf: np.ndarray, n_docs: int) -> None:
        self.terms = terms
        self.vocab = {t: i for i, t in enumerate(terms)}
        self.ptr, self.docs, self.weights, self.idf = ptr, docs, weights, idf
        self.n_docs = n_docs

    @classmethod
    def build(cls, fields: Iterable[tuple[list[str], list[str], list[str]]],
              params: BM25Params | None = None) -> LexicalIndex:
        """fields: for each document, (text terms, title terms, heading terms)."""
        p = params or BM25Params()
        vocab: dict[str, int] = {}
        t_ids, d_ids, tfs = array("i"), array("i"), array("f")
        lengths = array("f")
        for d, (body, title, path) in enumerate(fields):
            tf: Counter[str] = Counter(body)
            for t in title:
                tf[t] += p.title_boost
            for t in path:
                tf[t] += p.path_boost
            lengths.append(len(body) + p.title_boost * len(title) + p.path_boost * len(path))
            for term, f in tf.items():
                tid = vocab.setdefault(term, len(vocab))
                t_ids.append(tid)
                d_ids.append(d)
                tfs.append(f)
        n = len(lengths)
        t_arr = np.frombuffer(t_ids, dtype=np.int32)
        d_arr = np.frombuffer(d_ids, dtype=np.int32)
        tf_arr = np.frombuffer(tfs, dtype=np.float32)
        dl = np.frombuffer(lengths, dtype=np.float32)
        avgdl = float(dl.mean()) if n else 1.0
        order = np.argsort(t_arr, kind="stable")
        t_arr, d_arr, tf_arr = t_arr[order], d_arr[order], tf_arr[order]
        df = np.bincount(t_arr, minlength=len(vocab)).astype(np.float32)
        ptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(df, out=ptr[1:])
        norm = p.k1 * (1 - p.b + p.b * dl[d_arr] / avgdl)
        weights = (tf_arr * (p.k1 + 1) / (tf_arr + norm)).astype(np.float32)
        idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        terms = [""] * len(vocab)
        for term, i in vocab.items():
            terms[i] = term
        return cls(terms, ptr, d_arr, weights, idf, n)

    def score(self, query_terms: dict[str, float]) -> tuple[np.ndarray, list[str]]:
        """BM25 scores of every document for weighted query terms; also the terms the index knows."""
        scores = np.zeros(self.n_docs, dtype=np.float32)
        known = []
        for term, qw in query_terms.items():
            tid = self.vocab.get(term)
            if tid is None:
                continue
            known.append(term)
            lo, hi = self.ptr[tid], self.ptr[tid + 1]
            scores[self.docs[lo:hi]] += (qw * self.idf[tid]) * self.weights[lo:hi]
        return scores, known

    def contains(self, term: str, doc_rows: np.ndarray) -> np.ndarray:
        """Which of doc_rows contain term (for explaining a hit)."""
        tid = self.vocab.get(term)
        if tid is None:
            return np.zeros(len(doc_rows), dtype=bool)
        lo, hi = self.ptr[tid], self.ptr[tid + 1]
        return np.isin(doc_rows, self.docs[lo:hi])

    def save(self, path) -> None:
        np.savez(path, ptr=self.ptr, docs=self.docs, weights=self.weights, idf=self.idf,
                 n_docs=np.array([self.n_docs]), terms=np.array(self.terms, dtype=object))

    @classmethod
    def load(cls, path) -> LexicalIndex:
        z = np.load(path, allow_pickle=True)
        return cls(list(z["terms"]), z["ptr"], z["docs"], z["weights"], z["idf"], int(z["n_docs"][0]))


def idf_known(index: LexicalIndex, term: str) -> float | None:
    """The term's idf, or None where the index has never seen it."""
    tid = index.vocab.get(term)
    return float(index.idf[tid]) if tid is not None else None


def idf_of(index: LexicalIndex, term: str) -> float:
    tid = index.vocab.get(term)
    return float(index.idf[tid]) if tid is not None else math.log1p(index.n_docs + 0.5)
