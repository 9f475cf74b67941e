"""A low-dimensional copy of the article vectors for the first pass of the dense scan.

The exact scan reads every vector in full (512 float32 per article, about 130 MB for national law);
it is bound by memory bandwidth, and under concurrent searches that bandwidth is what runs out. The
first pass instead scores a projection onto the leading principal components (128 dims, a quarter
of the bytes), keeps the best COARSE_CANDIDATES rows, and the searcher re-scores those with the full
vectors. On the 148k-article LawRefBook KB and 200 STARD questions, the 1,600 coarse candidates held
99.95 % of the exact top 200 (lowest single query 98.5 %); docs/measurements.md has the figures.
"""

from __future__ import annotations

import numpy as np

DIMS = 128
MIN_ROWS = 50_000  # below this the exact scan takes a few milliseconds and is kept
CANDIDATES = 1600  # rows the first pass hands to the exact re-scoring
SAMPLE = 20_000    # rows the components are fitted on (more changes nothing measurable)


def fit(dense: np.ndarray, dims: int = DIMS, *, seed: int = 0) -> np.ndarray:
    """dim x dims basis of the leading principal components of dense (rows of a fixed-seed sample)."""
    rng = np.random.default_rng(seed)
    rows = dense if len(dense) <= SAMPLE else dense[np.sort(rng.choice(len(dense), SAMPLE, replace=False))]
    x = rows.astype(np.float64)
    x -= x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    basis = vt[:dims].T.astype(np.float32)
    # An SVD's signs are arbitrary; fix them so the same vectors always give the same basis.
    signs = np.sign(basis[np.argmax(np.abs(basis), axis=0), np.arange(basis.shape[1])])
    return np.ascontiguousarray(basis * signs)


def project(dense: np.ndarray, basis: np.ndarray, chunk: int = 65_536) -> np.ndarray:
    out = np.empty((len(dense), basis.shape[1]), dtype=np.float32)
    for start in range(0, len(dense), chunk):
        np.matmul(dense[start:start + chunk], basis, out=out[start:start + chunk])
    return out
