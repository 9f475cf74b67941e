"""Hybrid search over the embedded KB: BM25F and dense retrieval, filtered in the same pass, fused with
reciprocal-rank fusion, with cited articles pinned first."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from lawkb.model import LEVELS, LOCAL_LEVELS, STATUS_IN_FORCE, STATUSES
from lawkb.regions import normalize_region

from . import coarse, feedback
from . import snapshot as snapshots
from .cited import cited_articles, law_ids
from .contract import Filters, Query, QueryError, SearchResult
from .encoder import LazyModel
from .fusion import rrf
from .hits import hit_from_article
from .lexical import idf_known
from .query import analyze
from .snippets import compile_terms

MASK_CACHE = 64       # filter combinations whose row masks are kept per snapshot
RESCORE_MARGIN = 32   # extra dense candidates re-scored in float64 (see _dense)
DEPTH = 200          # candidates each retriever contributes to fusion
RRF_K = 60
DENSE_WEIGHT = 1.5   # the dense list's weight in RRF (chosen by two-fold CV on STARD dev, docs/search.md)
PRIOR_WEIGHT = 0.015  # law-popularity prior added to fused scores (same choice)
_CASE = LEVELS.index("案例")
_LOCAL = [LEVELS.index(x) for x in LOCAL_LEVELS]


class EmbeddedSearcher(LazyModel):
    """Implements the search contract over an EmbeddedKB. Thread-safe for concurrent searches."""

    def __init__(self, kb, *, encoder=None, use_model: bool = True) -> None:
        self.kb = kb
        self._init_model(encoder, use_model)
        self._snap: snapshots.Snapshot | None = None
        self._lock = threading.Lock()
        # None: the weights chosen with the query adapter, else DENSE_WEIGHT / PRIOR_WEIGHT (fusion_weights)
        self.dense_weight: float | None = None
        self.prior_weight: float | None = None
        self.coarse_min_rows = coarse.MIN_ROWS
        self.coarse_candidates = coarse.CANDIDATES
        self.feedback: bool | None = None  # None: as the search_feedback setting says (LazyModel.feedback_on)

    @property
    def index_dir(self) -> Path:
        return self.kb.path / "index"

    def snapshot(self) -> snapshots.Snapshot:
        with self._lock:
            gen = snapshots.generation(self.kb.conn)
            if self._snap is None or self._snap.generation != gen:
                snap = snapshots.load(self.index_dir, self.kb.conn)
                if snap is None:
                    snap = snapshots.build(self.kb.conn)
                    try:
                        snapshots.save(snap, self.index_dir)
                    except OSError:
                        pass  # a read-only KB still searches, it just rebuilds in memory
                enc = self.encoder()
                if enc is not None:
                    snapshots.attach_dense(snap, self.kb.conn, enc.model_id, enc.dim, self.index_dir,
                                           coarse_min_rows=self.coarse_min_rows)
                self._snap = snap
            return self._snap

    # ---- filters -------------------------------------------------------------------------------

    def mask(self, snap: snapshots.Snapshot, f: Filters) -> np.ndarray:
        """Rows that pass the filters: read-only, and cached on the snapshot, since most searches share
        a few filter combinations and building one costs more than scoring the lexical index."""
        m = snap.masks.get(f)
        if m is None:
            m = self._build_mask(snap, f)
            m.flags.writeable = False
            if len(snap.masks) >= MASK_CACHE:
                snap.masks.clear()
            snap.masks[f] = m
        return m

    def _build_mask(self, snap: snapshots.Snapshot, f: Filters) -> np.ndarray:
        m = np.ones(snap.size, dtype=bool)
        statuses = [STATUSES.index(s) for s in f.status]
        if f.as_of:
            d = snapshots.date_int(f.as_of)
            m &= (snap.valid_from <= d) & (d < snap.valid_to)
            if statuses:
                m &= np.isin(snap.version_status, statuses)
        elif statuses:
            m &= np.isin(snap.version_status, statuses)
        else:
            m &= snap.version_status == STATUSES.index(STATUS_IN_FORCE)
        if f.level:
            unknown = [x for x in f.level if x not in LEVELS]
            if unknown:
                raise QueryError(f"unknown level {unknown[0]!r}; one of {LEVELS}")
            m &= np.isin(snap.level, [LEVELS.index(x) for x in f.level])
        else:
            m &= snap.level != _CASE
        local = (snap.province >= 0) | np.isin(snap.level, _LOCAL)
        if f.region:
            reg = normalize_region(f.region)
            if reg is None:
                raise QueryError(f"unknown region {f.region!r}: give a province or city such as 北京, 杭州")
            p = snap.provinces.index(reg.province) if reg.province in snap.provinces else -2
            allowed = snap.province == p
            if reg.city:
                c = snap.cities.index(reg.city) if reg.city in snap.cities else -2
                allowed &= (snap.city == -1) | (snap.city == c)
            m &= ~local | allowed
        elif not f.level or not set(f.level) & LOCAL_LEVELS:
            # With no region, local documents would crowd out the national law everyone is under.
            m &= ~local
        if f.law:
            wanted = law_ids(self.kb, f.law)
            rows = [i for i, law in enumerate(snap.laws) if law["law_id"] in wanted]
            m &= np.isin(snap.law_row, rows)
        return m


    # ---- search --------------------------------------------------------------------------------

    def search(self, query: Query) -> SearchResult:
        t0 = time.perf_counter()
        if query.k < 1 or query.k > 500 or query.offset < 0:
            raise QueryError("k must be 1–500 and offset ≥ 0")
        a = analyze(query.text)
        snap = self.snapshot()
        m = self.mask(snap, query.filters)
        depth = max(DEPTH, query.offset + query.k)
        lexical_scores = self._lexical_scores(snap, a.terms, m)
        lexical_rows = _top(lexical_scores, depth, positive=True) if a.terms else []
        notes = list(a.notes)
        enc = self.encoder()
        dense_rows: list[int] = []
        qv = None
        if enc is None:
            mode = "lexical"
            why = "; ".join(self._model_notes) if self._model_notes else "embedding model disabled"
            notes.append(f"lexical search only: no embedding model ({why})")
        elif snap.dense is None or snap.dense_missing == snap.size:
            mode = "lexical"
            notes.append(f"lexical search only: no vectors for {enc.model_id} yet (run `lawkb embed`)")
        else:
            mode = "hybrid"
            if snap.dense_missing:
                notes.append(f"{snap.dense_missing} of {snap.size} articles have no vector yet (run `lawkb embed`)")
            qv = enc.encode_query(a.text)
            dense_rows = self._dense(snap, qv, m, depth)
        fused = self._fuse(snap, enc, lexical_rows, dense_rows)
        lex_rank: dict | None = None
        # A page inside the kept first page would show nothing feedback changed: skip its cost there.
        if a.terms and fused and query.offset + query.k > feedback.KEEP and self.feedback_on():
            # The first ranking lends the lexical query the law's own words (feedback.py); the dense
            # list stands, and so does the first page.
            top = [r for r, _ in fused[:feedback.FEEDBACK_DOCS]]
            words = self.kb.unit_terms([int(snap.unit_ids[r]) for r in top])
            expanded = feedback.expand(a.terms, [words.get(int(snap.unit_ids[r]), []) for r in top],
                                       lambda t: idf_known(snap.lexical, t))
            added = {t: w for t, w in expanded.items() if t not in a.terms}
            if added:
                second = _top(lexical_scores + self._lexical_scores(snap, added, m), depth, positive=True)
                fused = feedback.merge(fused, self._fuse(snap, enc, second, dense_rows))
                lex_rank = feedback.lexical_ranks(lexical_rows, second, fused)
        if lex_rank is None:
            lex_rank = {r: i for i, r in enumerate(lexical_rows, start=1)}
        dense_rank = {r: i for i, r in enumerate(dense_rows, start=1)}

        pinned = cited_articles(self.kb, a, query.filters.as_of)
        pinned_ids = {h["article_id"] for h in pinned}
        ordered: list[tuple[str, float, int | None]] = [(h["article_id"], 1.0, None) for h in pinned]
        ordered += [(snap.article_ids[r], s, r) for r, s in fused if snap.article_ids[r] not in pinned_ids]
        page = ordered[query.offset:query.offset + query.k]
        marker = compile_terms(list(a.terms))
        hits = []
        arts = self.kb.articles_by_ids([article_id for article_id, _, _ in page])
        for article_id, score, row in page:
            art = arts.get(article_id)
            if art is None:
                continue
            sim = float(snap.dense[row] @ qv) if (qv is not None and row is not None) else None
            retrievers = {}
            if row is not None and row in lex_rank:
                retrievers["lexical"] = lex_rank[row]
            if row is not None and row in dense_rank:
                retrievers["dense"] = dense_rank[row]
            hits.append(hit_from_article(
                article_id, art, terms=a.terms, score=score, similarity=sim, retrievers=retrievers,
                citation=article_id in pinned_ids, marker=marker))
        return SearchResult(query=a.text, mode=mode, hits=hits, total=len(ordered), notes=notes,
                            took_ms=(time.perf_counter() - t0) * 1000)

    def _fuse(self, snap, enc, lexical_rows: list[int], dense_rows: list[int]) -> list[tuple[int, float]]:
        dense_weight, prior_weight = self.fusion_weights(enc)
        fused = rrf([lexical_rows, dense_rows], k=self.rrf_k(enc), weights=[1.0, dense_weight]) if dense_rows else \
            [(r, 1.0 / (RRF_K + i)) for i, r in enumerate(lexical_rows, start=1)]
        if prior_weight and snap.popularity is not None and fused:
            rows = np.array([r for r, _ in fused])
            boosted = np.array([s for _, s in fused]) + prior_weight * snap.popularity[snap.law_row[rows]]
            order = np.lexsort((np.arange(len(rows)), -boosted))
            fused = [(int(rows[i]), float(boosted[i])) for i in order]
        return fused

    def _lexical_scores(self, snap, terms: dict[str, float], m: np.ndarray) -> np.ndarray:
        """BM25F of every row for the weighted terms, 0 outside the mask."""
        scores, _ = snap.lexical.score(terms)
        scores[~m] = 0.0
        return scores

    def _dense(self, snap, qv: np.ndarray, m: np.ndarray, depth: int) -> list[int]:
        """The depth best rows by dot product, over only the row groups the mask touches (the scan is
        memory-bound: national law alone is under half the rows of a KB with local regulations).

        On a large KB the scan reads the coarse projection (coarse.py) and re-scores its candidates with
        the full vectors. The final order is always by scores summed row by row in float64, so it does
        not depend on how BLAS happened to split and sum a product."""
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
        cand = rows[_top(scores, max(wanted, self.coarse_candidates) if use_coarse else wanted, positive=False)]
        if len(cand) > wanted:
            cand = cand[_top(snap.dense[cand] @ qv, wanted, positive=False)]
        exact = (snap.dense[cand].astype(np.float64) * qv.astype(np.float64)).sum(axis=1)
        return cand[np.lexsort((cand, -exact))[:depth]].tolist()


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


def _top(scores: np.ndarray, n: int, *, positive: bool) -> list[int]:
    """Row indices of the n best scores, best first; ties broken by row (deterministic)."""
    valid = np.flatnonzero(scores > 0) if positive else np.flatnonzero(np.isfinite(scores))
    if valid.size == 0:
        return []
    if valid.size > n:
        part = np.argpartition(-scores[valid], n - 1)[:n]
        valid = valid[part]
    order = np.lexsort((valid, -scores[valid]))
    return valid[order].tolist()
