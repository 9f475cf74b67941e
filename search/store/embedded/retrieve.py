"""The embedded store's two retrievers: BM25F over the snapshot's arrays and a dense scan of its vector
matrix, both restricted to the rows a query's filters allow (a mask built once per filter combination).
Fusion and everything after it is the ranking layer's (search/rank/)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lawkb.core.model import LEVELS, LOCAL_LEVELS, STATUS_IN_FORCE, STATUSES
from lawkb.core.versions import date_int
from lawkb.search.store.protocol import ResolvedFilters

from . import coarse
from . import snapshot as snapshots
from .lexical import idf_known

MASK_CACHE = 64       # filter combinations whose row masks are kept per snapshot
RESCORE_MARGIN = 32   # extra dense candidates re-scored in float64 (see QueryRows.dense)
_CASE = LEVELS.index("案例")
_LOCAL = [LEVELS.index(x) for x in LOCAL_LEVELS]


class EmbeddedRetriever:
    """The search side of an EmbeddedKB: the current snapshot, reloaded when the KB's generation moves.
    coarse_min_rows / coarse_candidates size the projected first pass of the dense scan (coarse.py)."""

    def __init__(self, kb, *, coarse_min_rows: int = coarse.MIN_ROWS,
                 coarse_candidates: int = coarse.CANDIDATES) -> None:
        self.kb = kb
        self.coarse_min_rows = coarse_min_rows
        self.coarse_candidates = coarse_candidates
        self._snap: snapshots.Snapshot | None = None
        self._lock = threading.Lock()

    @property
    def index_dir(self) -> Path:
        return self.kb.path / "index"

    def snapshot(self, model_id: str | None = None, dim: int | None = None) -> snapshots.Snapshot:
        with self._lock:
            gen = snapshots.generation(self.kb.conn)
            snap = self._snap
            if snap is None or snap.generation != gen:
                snap = snapshots.load(self.index_dir, self.kb.conn)
                if snap is None:
                    snap = snapshots.build(self.kb.conn)
                    try:
                        snapshots.save(snap, self.index_dir)
                    except OSError:
                        pass  # a read-only KB still searches, it just rebuilds in memory
            if model_id is not None and snap.dense_model != model_id:
                snapshots.attach_dense(snap, self.kb.conn, model_id, self.index_dir,
                                       coarse_min_rows=self.coarse_min_rows)
            self._snap = snap
            return snap

    def prepare(self, model_id: str | None) -> None:
        self.snapshot(model_id)

    def for_query(self, filters: ResolvedFilters, model_id: str | None) -> QueryRows:
        snap = self.snapshot(model_id)
        return QueryRows(self, snap, mask(snap, filters))


def mask(snap: snapshots.Snapshot, f: ResolvedFilters) -> np.ndarray:
    """Rows that pass the filters: read-only, and cached on the snapshot, since most searches share
    a few filter combinations and building one costs more than scoring the lexical index."""
    m = snap.masks.get(f)
    if m is None:
        m = _build_mask(snap, f)
        m.flags.writeable = False
        if len(snap.masks) >= MASK_CACHE:
            snap.masks.clear()
        snap.masks[f] = m
    return m


def _build_mask(snap: snapshots.Snapshot, f: ResolvedFilters) -> np.ndarray:
    m = np.ones(snap.size, dtype=bool)
    statuses = [STATUSES.index(s) for s in f.statuses]
    if f.as_of:
        d = date_int(f.as_of)
        m &= (snap.valid_from <= d) & (d < snap.valid_to)
        if statuses:
            m &= np.isin(snap.version_status, statuses)
    elif statuses:
        m &= np.isin(snap.version_status, statuses)
    else:
        m &= snap.version_status == STATUSES.index(STATUS_IN_FORCE)
    if f.levels:
        m &= np.isin(snap.level, [LEVELS.index(x) for x in f.levels])
    else:
        m &= snap.level != _CASE
    local = (snap.province >= 0) | np.isin(snap.level, _LOCAL)
    if f.region:
        reg = f.region
        p = snap.provinces.index(reg.province) if reg.province in snap.provinces else -2
        allowed = snap.province == p
        if reg.city:
            c = snap.cities.index(reg.city) if reg.city in snap.cities else -2
            allowed &= (snap.city == -1) | (snap.city == c)
        m &= ~local | allowed
    elif not f.local_levels:
        # With no region, local documents would crowd out the national law everyone is under.
        m &= ~local
    if f.law_ids is not None:
        rows = [i for i, law in enumerate(snap.laws) if law["law_id"] in f.law_ids]
        m &= np.isin(snap.law_row, rows)
    return m


class QueryRows:
    """One query's retrievers over the snapshot rows its mask allows; keys are row numbers."""

    def __init__(self, retriever: EmbeddedRetriever, snap: snapshots.Snapshot, m: np.ndarray) -> None:
        self.r, self.snap, self.m = retriever, snap, m
        self._scores: tuple[dict[str, float], np.ndarray] | None = None

    def dense_state(self, model_id: str) -> tuple[bool, list[str]]:
        snap = self.snap
        if snap.dense is None or snap.has_vector is None or snap.dense_missing == snap.size:
            return False, [f"lexical search only: no vectors for {model_id} yet (run `lawkb embed`)"]
        if snap.dense_missing:
            # A half-embedded scope would rank its articles without vectors below the rest, unseen: such a
            # search stays lexical until they are done (national law in force comes first, vectors.py).
            lacking = int(np.count_nonzero(self.m & ~snap.has_vector))
            if lacking:
                return False, [f"lexical search only: {lacking} of {int(np.count_nonzero(self.m))} articles "
                               "this search covers have no vector yet (run `lawkb embed`)"]
        return True, []

    def _lexical_scores(self, terms: dict[str, float]) -> np.ndarray:
        """BM25F of every row for the weighted terms, 0 outside the mask."""
        scores, _ = self.snap.lexical.score(terms)
        scores[~self.m] = 0.0
        return scores

    def lexical(self, terms: dict[str, float], depth: int, *, added: dict[str, float] | None = None,
                ) -> list[int]:
        # The query's own scores are kept: feedback only adds its terms' scores to them.
        if self._scores is None or self._scores[0] is not terms:
            self._scores = (terms, self._lexical_scores(terms))
        scores = self._scores[1]
        if added:
            scores = scores + self._lexical_scores(added)
        return top(scores, depth, positive=True)

    def retrieve(self, terms: dict[str, float], qv: np.ndarray | None, depth: int,
                 ) -> tuple[list[int], list[int]]:
        return (self.lexical(terms, depth) if terms else []), (self.dense(qv, depth) if qv is not None else [])

    def dense(self, qv: np.ndarray, depth: int) -> list[int]:
        """The depth best rows by dot product, over only the row groups the mask touches (the scan is
        memory-bound: national law alone is under half the rows of a KB with local regulations).

        On a large KB the scan reads the coarse projection (coarse.py) and re-scores its candidates with
        the full vectors. The final order is always by scores summed row by row in float64, so it does
        not depend on how BLAS happened to split and sum a product."""
        snap, m = self.snap, self.m
        use_coarse = snap.coarse is not None and snap.coarse_basis is not None
        mat, vec = (snap.coarse, qv @ snap.coarse_basis) if use_coarse else (snap.dense, qv)
        rows_parts, score_parts = [], []
        for lo, hi in _ranges(snap, m):
            keep = np.flatnonzero(m[lo:hi])
            part = mat[lo:hi] @ vec
            rows_parts.append(keep + lo)
            score_parts.append(part[keep])
        if not rows_parts:
            return []
        rows, scores = np.concatenate(rows_parts), np.concatenate(score_parts)
        wanted = depth + RESCORE_MARGIN
        cand = rows[top(scores, max(wanted, self.r.coarse_candidates) if use_coarse else wanted, positive=False)]
        if len(cand) > wanted:
            cand = cand[top(snap.dense[cand] @ qv, wanted, positive=False)]
        exact = (snap.dense[cand].astype(np.float64) * qv.astype(np.float64)).sum(axis=1)
        return cand[np.lexsort((cand, -exact))[:depth]].tolist()

    def popularity(self, keys: list[int]) -> np.ndarray | None:
        if self.snap.popularity is None:
            return None
        return self.snap.popularity[self.snap.law_row[np.array(keys)]]

    def feedback_words(self, keys: list[int]) -> tuple[list[list[str]], Callable[[str], float | None]]:
        snap = self.snap
        words = self.r.kb.unit_terms([int(snap.unit_ids[r]) for r in keys])
        return ([words.get(int(snap.unit_ids[r]), []) for r in keys],
                lambda t: idf_known(snap.lexical, t))

    def article_id(self, key: int) -> str:
        return self.snap.article_ids[key]

    def page(self, entries: list[tuple[str, int | None]], qv: np.ndarray | None,
             ) -> dict[str, tuple[dict, float | None]]:
        arts = self.r.kb.articles_by_ids([article_id for article_id, _ in entries])
        out = {}
        for article_id, row in entries:
            if article_id in arts:
                sim = float(self.snap.dense[row] @ qv) if (qv is not None and row is not None) else None
                out[article_id] = (arts[article_id], sim)
        return out


def _ranges(snap, m: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous row ranges covering every group that has a row in the mask."""
    starts = snap.groups if snap.groups is not None and len(snap.groups) else np.array([0])
    counts = np.add.reduceat(m.astype(np.int32), starts) if snap.size else np.array([0])
    ends = list(starts[1:]) + [snap.size]
    out: list[tuple[int, int]] = []
    for lo, hi, c in zip(starts.tolist(), ends, counts.tolist(), strict=True):
        if c:
            if out and out[-1][1] == lo:
                out[-1] = (out[-1][0], int(hi))
            else:
                out.append((int(lo), int(hi)))
    return out


def top(scores: np.ndarray, n: int, *, positive: bool) -> list[int]:
    """Row indices of the n best scores, best first; ties broken by row (deterministic)."""
    valid = np.flatnonzero(scores > 0) if positive else np.flatnonzero(np.isfinite(scores))
    if valid.size == 0:
        return []
    if valid.size > n:
        part = np.argpartition(-scores[valid], n - 1)[:n]
        valid = valid[part]
    order = np.lexsort((valid, -scores[valid]))
    return valid[order].tolist()
