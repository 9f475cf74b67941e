"""Hybrid search on the Elasticsearch backend, with the embedded engine's semantics.

The filters become one Elasticsearch filter applied inside both retrievers (the kNN `filter`, not a
post-filter). BM25 runs over the jieba-segmented fields with the same field boosts as the embedded
BM25F; kNN runs over the article vectors. Both go in one `_msearch` round trip, and their ranked lists
are fused by the same pure `fusion.rrf` with the same weights, popularity prior and citation pinning.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import numpy as np

from lawkb.model import LEVELS, LOCAL_LEVELS, STATUS_IN_FORCE
from lawkb.regions import normalize_region

from . import feedback
from .backend import KBError
from .cited import cited_articles, law_ids
from .contract import Filters, Query, QueryError, SearchResult
from .encoder import LazyModel
from .engine import DEPTH, RRF_K
from .es_mapping import date_int
from .fusion import rrf
from .hits import hit_from_article
from .lexical import BM25Params
from .query import analyze
from .snippets import compile_terms

NUM_CANDIDATES = 1000   # HNSW candidates per shard for the kNN list (exact search scores every row)
_PARAMS = BM25Params()
# combined_fields (BM25F) takes field weights >= 1, so the embedded ratios 1 : 2 : 0.5 are scaled by 2.
FIELDS = ["terms^2", f"title_terms^{2 * _PARAMS.title_boost:g}", f"path_terms^{2 * _PARAMS.path_boost:g}"]


def es_filter(f: Filters, law_ids: set[str] | None = None) -> dict:
    """The contract's filters as an Elasticsearch bool filter over article records."""
    must: list[dict] = [{"term": {"doc_type": "article"}}]
    must_not: list[dict] = []
    if f.as_of:
        d = date_int(f.as_of)
        must += [{"range": {"valid_from": {"lte": d}}}, {"range": {"valid_to": {"gt": d}}}]
        if f.status:
            must.append({"terms": {"status": list(f.status)}})
    elif f.status:
        must.append({"terms": {"status": list(f.status)}})
    else:
        must.append({"term": {"status": STATUS_IN_FORCE}})
    if f.level:
        unknown = [x for x in f.level if x not in LEVELS]
        if unknown:
            raise QueryError(f"unknown level {unknown[0]!r}; one of {LEVELS}")
        must.append({"terms": {"level": list(f.level)}})
    else:
        must_not.append({"term": {"level": "案例"}})
    if f.region:
        reg = normalize_region(f.region)
        if reg is None:
            raise QueryError(f"unknown region {f.region!r}: give a province or city such as 北京, 杭州")
        allowed: list[dict] = [{"term": {"province": reg.province}}]
        if reg.city:
            allowed.append({"bool": {"should": [{"term": {"city": reg.city}},
                                                {"bool": {"must_not": {"exists": {"field": "city"}}}}]}})
        must.append({"bool": {"should": [{"term": {"is_local": False}}, {"bool": {"filter": allowed}}],
                              "minimum_should_match": 1}})
    elif not f.level or not set(f.level) & LOCAL_LEVELS:
        # With no region, local documents would crowd out the national law everyone is under.
        must.append({"term": {"is_local": False}})
    if law_ids is not None:
        must.append({"terms": {"law_id": sorted(law_ids)}})
    return {"bool": {"filter": must, "must_not": must_not}}


class ElasticSearcher(LazyModel):
    """Implements the search contract over an ElasticKB. Thread-safe for concurrent searches."""

    def __init__(self, kb, *, encoder=None, use_model: bool = True) -> None:
        self.kb = kb
        self._init_model(encoder, use_model)
        self._lock = threading.Lock()
        self._state: tuple[float, str | None, dict, dict[str, float]] | None = None
        # None: the weights chosen with the query adapter, else DENSE_WEIGHT / PRIOR_WEIGHT (fusion_weights)
        self.dense_weight: float | None = None
        self.prior_weight: float | None = None
        self.num_candidates = NUM_CANDIDATES
        self.feedback: bool | None = None  # None: as the search_feedback setting says (LazyModel.feedback_on)

    def _generation(self) -> tuple[dict, dict[str, float]]:
        """The live generation's meta record and law popularity, re-read when the alias moves
        (checked at most once a second)."""
        with self._lock:
            now = time.monotonic()
            if self._state is not None and now - self._state[0] < 1.0:
                return self._state[2], self._state[3]
            index = self.kb.current_index()
            if self._state is None or self._state[1] != index:
                meta = self.kb.meta()
                popularity = {r["law_id"]: float(r.get("popularity") or 0.0) for r in self.kb._scan(
                    {"term": {"doc_type": "law"}}, includes=["law_id", "popularity"])}
                self._state = (now, index, meta, popularity)
            else:
                self._state = (now, *self._state[1:])
            return self._state[2], self._state[3]

    def search(self, query: Query) -> SearchResult:
        t0 = time.perf_counter()
        if query.k < 1 or query.k > 500 or query.offset < 0:
            raise QueryError("k must be 1–500 and offset ≥ 0")
        a = analyze(query.text)
        meta, popularity = self._generation()
        wanted = law_ids(self.kb, query.filters.law) if query.filters.law else None
        flt = es_filter(query.filters, wanted)
        depth = max(DEPTH, query.offset + query.k)
        notes = list(a.notes)
        enc = self.encoder()
        qv = None
        if enc is None:
            mode = "lexical"
            why = "; ".join(self._model_notes) if self._model_notes else "embedding model disabled"
            notes.append(f"lexical search only: no embedding model ({why})")
        elif not meta.get("vectors"):
            mode = "lexical"
            notes.append(f"lexical search only: no vectors for {enc.model_id} yet (run `lawkb embed`)")
        elif meta.get("model") and meta["model"] != enc.model_id:
            mode = "lexical"
            notes.append(f"lexical search only: the index holds vectors of {meta['model']}, not {enc.model_id}")
        else:
            mode = "hybrid"
            if meta["vectors"] < meta.get("articles", 0):
                notes.append(f"{meta['articles'] - meta['vectors']} of {meta['articles']} articles have no "
                             "vector yet (run `lawkb embed`)")
            qv = enc.encode_query(a.text)
        lexical_ids, dense_ids, law_of = self._retrieve(a.terms, flt, qv, depth)
        fused = self._fuse(enc, lexical_ids, dense_ids, law_of, popularity)
        lex_rank: dict | None = None
        if a.terms and fused and query.offset + query.k > feedback.KEEP and self.feedback_on():
            # As in the embedded engine: the first fused ranking lends the lexical query its words, for
            # what comes after the first page.
            docs, idf = self._feedback_terms([aid for aid, _ in fused[:feedback.FEEDBACK_DOCS]])
            expanded = feedback.expand(a.terms, docs, idf)
            if len(expanded) > len(a.terms):
                second, _, more = self._retrieve(expanded, flt, None, depth)
                law_of.update(more)
                fused = feedback.merge(fused, self._fuse(enc, second, dense_ids, law_of, popularity))
                lex_rank = feedback.lexical_ranks(lexical_ids, second, fused)
        if lex_rank is None:
            lex_rank = {r: i for i, r in enumerate(lexical_ids, start=1)}
        dense_rank = {r: i for i, r in enumerate(dense_ids, start=1)}

        pinned = cited_articles(self.kb, a, query.filters.as_of)
        pinned_ids = {h["article_id"] for h in pinned}
        ordered: list[tuple[str, float]] = [(h["article_id"], 1.0) for h in pinned]
        ordered += [(aid, s) for aid, s in fused if aid not in pinned_ids]
        page = ordered[query.offset:query.offset + query.k]
        found = self.kb.articles_by_ids([aid for aid, _ in page], with_vector=qv is not None)
        marker = compile_terms(list(a.terms))
        hits = []
        for article_id, score in page:
            art = found.get(article_id)
            if art is None:
                continue
            vec = art.get("vector")
            sim = float(np.asarray(vec, dtype=np.float32) @ qv) if (qv is not None and vec) else None
            retrievers = {}
            if article_id in lex_rank:
                retrievers["lexical"] = lex_rank[article_id]
            if article_id in dense_rank:
                retrievers["dense"] = dense_rank[article_id]
            hits.append(hit_from_article(
                article_id, art, terms=a.terms, score=score, similarity=sim, retrievers=retrievers,
                citation=article_id in pinned_ids, marker=marker))
        return SearchResult(query=a.text, mode=mode, hits=hits, total=len(ordered), notes=notes,
                            took_ms=(time.perf_counter() - t0) * 1000)

    def _fuse(self, enc, lexical_ids: list[str], dense_ids: list[str], law_of: dict[str, str],
              popularity: dict[str, float]) -> list[tuple[str, float]]:
        dense_weight, prior_weight = self.fusion_weights(enc)
        fused = rrf([lexical_ids, dense_ids], k=self.rrf_k(enc), weights=[1.0, dense_weight]) if dense_ids else \
            [(r, 1.0 / (RRF_K + i)) for i, r in enumerate(lexical_ids, start=1)]
        if prior_weight and fused:
            boosted = [(aid, s + prior_weight * popularity.get(law_of.get(aid, ""), 0.0), i)
                       for i, (aid, s) in enumerate(fused)]
            boosted.sort(key=lambda x: (-x[1], x[2]))
            fused = [(aid, s) for aid, s, _ in boosted]
        return fused

    def _feedback_terms(self, ids: list[str]) -> tuple[list[list[str]], Callable[[str], float | None]]:
        """The indexed words of these articles, in order, and each word's idf from Elasticsearch's own
        term statistics with the embedded index's formula. It counts the article text field only (the
        embedded index counts text, title and headings together), so the two backends may pick
        slightly different words for the same question."""
        if not ids:
            return [], lambda t: None
        with self.kb._errors("search"):
            resp = self.kb.es.mtermvectors(index=self.kb.alias, ids=ids, fields=["terms"], term_statistics=True,
                                           field_statistics=True, positions=False, offsets=False, payloads=False)
        words: dict[str, list[str]] = {}
        df: dict[str, int] = {}
        n = 0
        for d in resp.get("docs", []):
            tv = (d.get("term_vectors") or {}).get("terms")
            if not tv:
                continue
            n = max(n, int(tv.get("field_statistics", {}).get("doc_count", 0)))
            words[d["_id"]] = list(tv.get("terms", {}))
            for t, st in tv.get("terms", {}).items():
                df[t] = int(st.get("doc_freq", 0))

        def idf(t: str) -> float | None:
            f = df.get(t)
            return math.log1p((n - f + 0.5) / (f + 0.5)) if f else None

        return [words.get(i, []) for i in ids], idf

    def _retrieve(self, terms: dict[str, float], flt: dict, qv, depth: int,
                  ) -> tuple[list[str], list[str], dict[str, str]]:
        """Lexical and kNN lists in one _msearch; ids best first, and each id's law."""
        searches: list[dict] = []
        if terms:
            should = [{"combined_fields": {"query": term, "fields": FIELDS, "boost": weight}}
                      for term, weight in terms.items()]
            searches += [{}, {"query": {"bool": {"filter": [flt], "should": should, "minimum_should_match": 1}},
                              "size": depth, "_source": ["law_id"], "track_total_hits": False}]
        if qv is not None:
            searches += [{}, {"knn": {"field": "vector", "query_vector": [float(x) for x in qv], "k": depth,
                                      "num_candidates": max(self.num_candidates, depth), "filter": flt},
                              "size": depth, "_source": ["law_id"], "track_total_hits": False}]
        if not searches:
            return [], [], {}
        with self.kb._errors("search"):
            responses = self.kb.es.msearch(index=self.kb.alias, searches=searches)["responses"]
        lists: list[list[str]] = []
        law_of: dict[str, str] = {}
        for r in responses:
            if "error" in r:
                err = r["error"]
                raise KBError(f"search failed: {err.get('type')}: {err.get('reason')}")
            ids = []
            for h in r["hits"]["hits"]:
                ids.append(h["_id"])
                law_of[h["_id"]] = h["_source"]["law_id"]
            lists.append(ids)
        lexical = lists[0] if terms else []
        dense = lists[-1] if qv is not None else []
        return lexical, dense, law_of


