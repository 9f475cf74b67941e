"""The one search pipeline, over any store: analyse the question → the store's lexical and dense
retrievers, filtered inside → fuse with reciprocal ranks and the law-popularity prior → pseudo-relevance
feedback below the first page → cited articles pinned first → hits that say why they matched."""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable

import numpy as np

from lawkb.core.errors import QueryError
from lawkb.search.contract import Query, SearchResult
from lawkb.search.encode.adapter import with_adapter
from lawkb.search.encode.resolve import last_resolution_notes, resolve_model
from lawkb.search.profile import PLAIN, RankingProfile, feedback_setting
from lawkb.search.store.protocol import KnowledgeBase, QueryRetrieval, Retriever

from . import feedback
from .analyze import analyze
from .cited import cited_articles
from .filters import resolve_filters
from .fusion import rrf
from .hits import hit_from_article
from .snippets import compile_terms

MAX_K = 500


class Searcher:
    """Implements the search contract over any KnowledgeBase. Thread-safe for concurrent searches.

    encoder: the embedding model, else resolved on first use from local places only (a query never
    downloads), with the reasons kept when there is none so results can say why search is lexical.
    profile: the ranking settings, else those the model comes with (search/profile.py).
    retriever: the store's search side, else its default one (kb.retriever())."""

    def __init__(self, kb: KnowledgeBase, *, encoder=None, use_model: bool = True,
                 profile: RankingProfile | None = None, retriever: Retriever | None = None) -> None:
        self.kb = kb
        self.retriever = retriever or kb.retriever()
        self._use_model = use_model
        self._encoder = with_adapter(encoder) if use_model else None
        self._resolved = encoder is not None or not use_model
        self._model_notes: list[str] = []
        self._profile = profile
        self._lock = threading.Lock()

    def encoder(self):
        if not self._resolved:
            with self._lock:
                if not self._resolved:
                    self._encoder = with_adapter(resolve_model(allow_download=False))
                    self._model_notes = [] if self._encoder else list(last_resolution_notes())
                    self._resolved = True
        return self._encoder

    def profile(self) -> RankingProfile:
        """The given profile, else the model's with feedback as the search_feedback setting says."""
        if self._profile is not None:
            return self._profile
        enc = self.encoder()
        base = enc.profile if enc is not None else PLAIN
        on = base.feedback and feedback_setting()
        return base if on == base.feedback else base.with_(feedback=on)

    def prepare(self) -> None:
        """Load the store's search side and the model now rather than on the first question."""
        enc = self.encoder()
        self.retriever.prepare(enc.model_id if enc is not None else None)

    def search(self, query: Query) -> SearchResult:
        t0 = time.perf_counter()
        if query.k < 1 or query.k > MAX_K or query.offset < 0:
            raise QueryError(f"返回条数 k 应为 1–{MAX_K}，offset 不能为负数")
        a = analyze(query.text)
        p = self.profile()
        enc = self.encoder()
        ret = self.retriever.for_query(resolve_filters(self.kb, query.filters),
                                       enc.model_id if enc is not None else None)
        # One depth for every page, so the total (about how many articles answer) is the same on page 1
        # and page 30; pages past it are empty rather than drawn from a deeper, different ranking.
        depth = max(p.depth, query.k)
        notes = list(a.notes)
        qv = None
        if enc is None:
            why = "; ".join(self._model_notes) if self._model_notes else "embedding model disabled"
            notes.append(f"仅关键词检索：语义模型不可用（{why}）")
        else:
            usable, vector_notes = ret.dense_state(enc.model_id)
            notes += vector_notes
            if usable:
                qv = enc.encode_query(a.text)
        mode = "hybrid" if qv is not None else "lexical"
        lexical, dense = ret.retrieve(a.terms, qv, depth)
        fused = fuse(ret, p, lexical, dense)
        # Feedback reorders below the first page and is skipped on it, so the count is taken before it:
        # the same on every page.
        found_count = len(fused)
        lex_rank: dict | None = None
        # A page inside the kept first page would show nothing feedback changed: skip its cost there.
        if a.terms and fused and query.offset + query.k > feedback.KEEP and p.feedback:
            # The first ranking lends the lexical query the law's own words (feedback.py); the dense
            # list stands, and so does the first page.
            words, idf = ret.feedback_words([key for key, _ in fused[:feedback.FEEDBACK_DOCS]])
            expanded = feedback.expand(a.terms, words, idf)
            added = {t: w for t, w in expanded.items() if t not in a.terms}
            if added:
                second = ret.lexical(a.terms, depth, added=added)
                fused = feedback.merge(fused, fuse(ret, p, second, dense))
                lex_rank = feedback.lexical_ranks(lexical, second, fused)
        if lex_rank is None:
            lex_rank = {key: i for i, key in enumerate(lexical, start=1)}
        dense_rank = {key: i for i, key in enumerate(dense, start=1)}

        pinned = cited_articles(self.kb, a, query.filters.as_of, notes)
        pinned_ids = {h["article_id"] for h in pinned}
        ordered: list[tuple[str, float, Hashable | None]] = [(h["article_id"], 1.0, None) for h in pinned]
        for key, score in fused:
            article_id = ret.article_id(key)
            if article_id not in pinned_ids:
                ordered.append((article_id, score, key))
        ordered = ordered[:found_count + len(pinned)]
        page = ordered[query.offset:query.offset + query.k]
        found = ret.page([(article_id, key) for article_id, _, key in page], qv)
        marker = compile_terms(list(a.terms))
        hits = []
        for article_id, score, key in page:
            if article_id not in found:
                continue
            art, similarity = found[article_id]
            retrievers = {}
            if key is not None and key in lex_rank:
                retrievers["lexical"] = lex_rank[key]
            if key is not None and key in dense_rank:
                retrievers["dense"] = dense_rank[key]
            hits.append(hit_from_article(
                article_id, art, terms=a.terms, score=score, similarity=similarity, retrievers=retrievers,
                citation=article_id in pinned_ids, marker=marker))
        return SearchResult(query=a.text, mode=mode, hits=hits, total=len(ordered), notes=notes,
                            took_ms=(time.perf_counter() - t0) * 1000)


def fuse(ret: QueryRetrieval, p: RankingProfile, lexical: list, dense: list) -> list[tuple[Hashable, float]]:
    """Reciprocal-rank fusion of the two lists (the dense one weighted), plus the law-popularity prior;
    ties keep the fused order."""
    if dense:
        fused = rrf([lexical, dense], k=p.rrf_k, weights=[1.0, p.dense_weight])
    else:
        fused = [(key, 1.0 / (p.rrf_k + i)) for i, key in enumerate(lexical, start=1)]
    if p.prior_weight and fused:
        popularity = ret.popularity([key for key, _ in fused])
        if popularity is not None:
            boosted = np.array([s for _, s in fused]) + p.prior_weight * popularity
            order = np.lexsort((np.arange(len(fused)), -boosted))
            fused = [(fused[i][0], float(boosted[i])) for i in order]
    return fused
