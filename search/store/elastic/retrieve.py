"""The Elasticsearch store's two retrievers, with the embedded store's semantics.

The filters become one Elasticsearch filter applied inside both retrievers (the kNN `filter`, not a
post-filter). BM25 runs over the jieba-segmented fields with the same field boosts as the embedded
BM25F; kNN runs over the article vectors. Both go in one `_msearch` round trip. Fusion and everything
after it is the ranking layer's (search/rank/).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import numpy as np

from lawkb.core.errors import KBError
from lawkb.core.model import STATUS_IN_FORCE
from lawkb.core.versions import date_int
from lawkb.search.store.embedded.lexical import BM25Params
from lawkb.search.store.protocol import ResolvedFilters

NUM_CANDIDATES = 1000   # HNSW candidates per shard for the kNN list (exact search scores every row)
_PARAMS = BM25Params()
# combined_fields (BM25F) takes field weights >= 1, so the embedded ratios 1 : 2 : 0.5 are scaled by 2.
FIELDS = ["terms^2", f"title_terms^{2 * _PARAMS.title_boost:g}", f"path_terms^{2 * _PARAMS.path_boost:g}"]


def es_filter(f: ResolvedFilters) -> dict:
    """The filters as an Elasticsearch bool filter over article records."""
    must: list[dict] = [{"term": {"doc_type": "article"}}]
    must_not: list[dict] = []
    if f.as_of:
        d = date_int(f.as_of)
        must += [{"range": {"valid_from": {"lte": d}}}, {"range": {"valid_to": {"gt": d}}}]
        if f.statuses:
            must.append({"terms": {"status": list(f.statuses)}})
    elif f.statuses:
        must.append({"terms": {"status": list(f.statuses)}})
    else:
        must.append({"term": {"status": STATUS_IN_FORCE}})
    if f.levels:
        must.append({"terms": {"level": list(f.levels)}})
    else:
        must_not.append({"term": {"level": "案例"}})
    if f.region:
        reg = f.region
        allowed: list[dict] = [{"term": {"province": reg.province}}]
        if reg.city:
            allowed.append({"bool": {"should": [{"term": {"city": reg.city}},
                                                {"bool": {"must_not": {"exists": {"field": "city"}}}}]}})
        must.append({"bool": {"should": [{"term": {"is_local": False}}, {"bool": {"filter": allowed}}],
                              "minimum_should_match": 1}})
    elif not f.local_levels:
        # With no region, local documents would crowd out the national law everyone is under.
        must.append({"term": {"is_local": False}})
    if f.law_ids is not None:
        must.append({"terms": {"law_id": sorted(f.law_ids)}})
    return {"bool": {"filter": must, "must_not": must_not}}


class ElasticRetriever:
    """The search side of an ElasticKB: the live generation's meta record and law popularity, re-read
    when the alias moves (checked at most once a second)."""

    def __init__(self, kb, *, num_candidates: int = NUM_CANDIDATES) -> None:
        self.kb = kb
        self.num_candidates = num_candidates
        self._lock = threading.Lock()
        self._state: tuple[float, str | None, dict, dict[str, float]] | None = None

    def generation(self) -> tuple[dict, dict[str, float]]:
        with self._lock:
            now = time.monotonic()
            if self._state is not None and now - self._state[0] < 1.0:
                return self._state[2], self._state[3]
            index = self.kb.current_index()
            if self._state is None or self._state[1] != index:
                meta = self.kb.meta()
                popularity = {r["law_id"]: float(r.get("popularity") or 0.0) for r in self.kb.scan(
                    {"term": {"doc_type": "law"}}, includes=["law_id", "popularity"])}
                self._state = (now, index, meta, popularity)
            else:
                self._state = (now, *self._state[1:])
            return self._state[2], self._state[3]

    def prepare(self, model_id: str | None) -> None:
        self.generation()

    def for_query(self, filters: ResolvedFilters, model_id: str | None) -> QueryDocs:
        meta, popularity = self.generation()
        return QueryDocs(self, es_filter(filters), meta, popularity)


class QueryDocs:
    """One query's retrievers over the article records its filter allows; keys are article ids."""

    def __init__(self, r: ElasticRetriever, flt: dict, meta: dict, popularity: dict[str, float]) -> None:
        self.r, self.kb, self.flt, self.meta, self.pop = r, r.kb, flt, meta, popularity
        self.law_of: dict[str, str] = {}

    def dense_state(self, model_id: str) -> tuple[bool, list[str]]:
        meta = self.meta
        if not meta.get("vectors"):
            return False, [f"lexical search only: no vectors for {model_id} yet (run `lawkb embed`)"]
        if meta.get("model") and meta["model"] != model_id:
            return False, [f"lexical search only: the index holds vectors of {meta['model']}, not {model_id}"]
        if meta["vectors"] < meta.get("articles", 0):
            return True, [f"{meta['articles'] - meta['vectors']} of {meta['articles']} articles have no "
                          "vector yet (run `lawkb embed`)"]
        return True, []

    def lexical(self, terms: dict[str, float], depth: int, *, added: dict[str, float] | None = None,
                ) -> list[str]:
        return self._search(_bm25(terms | (added or {}), self.flt, depth))

    def retrieve(self, terms: dict[str, float], qv: np.ndarray | None, depth: int,
                 ) -> tuple[list[str], list[str]]:
        """The lexical and kNN lists in one _msearch round trip."""
        searches = [_bm25(terms, self.flt, depth)] if terms else []
        if qv is not None:
            searches.append({"knn": {"field": "vector", "query_vector": [float(x) for x in qv], "k": depth,
                                     "num_candidates": max(self.r.num_candidates, depth), "filter": self.flt},
                             "size": depth, "_source": ["law_id"], "track_total_hits": False})
        lists = self._msearch(searches)
        return (lists[0] if terms else []), (lists[-1] if qv is not None else [])

    def _search(self, body: dict) -> list[str]:
        return self._msearch([body])[0]

    def _msearch(self, bodies: list[dict]) -> list[list[str]]:
        if not bodies:
            return []
        searches: list[dict] = []
        for b in bodies:
            searches += [{}, b]
        with self.kb.errors("search"):
            responses = self.kb.es.msearch(index=self.kb.alias, searches=searches)["responses"]
        lists: list[list[str]] = []
        for r in responses:
            if "error" in r:
                err = r["error"]
                raise KBError(f"search failed: {err.get('type')}: {err.get('reason')}")
            ids = []
            for h in r["hits"]["hits"]:
                ids.append(h["_id"])
                self.law_of[h["_id"]] = h["_source"]["law_id"]
            lists.append(ids)
        return lists

    def popularity(self, keys: list[str]) -> np.ndarray | None:
        return np.array([self.pop.get(self.law_of.get(k, ""), 0.0) for k in keys], dtype=np.float64)

    def feedback_words(self, keys: list[str]) -> tuple[list[list[str]], Callable[[str], float | None]]:
        """The indexed words of these articles, in order, and each word's idf from Elasticsearch's own
        term statistics with the embedded index's formula. It counts the article text field only (the
        embedded index counts text, title and headings together), so the two stores may pick slightly
        different words for the same question."""
        if not keys:
            return [], lambda t: None
        with self.kb.errors("search"):
            resp = self.kb.es.mtermvectors(index=self.kb.alias, ids=keys, fields=["terms"], term_statistics=True,
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

        return [words.get(i, []) for i in keys], idf

    def article_id(self, key: str) -> str:
        return key

    def page(self, entries: list[tuple[str, str | None]], qv: np.ndarray | None,
             ) -> dict[str, tuple[dict, float | None]]:
        found = self.kb.articles_by_ids([article_id for article_id, _ in entries], with_vector=qv is not None)
        out = {}
        for article_id, _ in entries:
            art = found.get(article_id)
            if art is not None:
                vec = art.pop("vector", None)
                sim = float(np.asarray(vec, dtype=np.float32) @ qv) if (qv is not None and vec) else None
                out[article_id] = (art, sim)
        return out


def _bm25(terms: dict[str, float], flt: dict, depth: int) -> dict:
    should = [{"combined_fields": {"query": term, "fields": FIELDS, "boost": weight}}
              for term, weight in terms.items()]
    return {"query": {"bool": {"filter": [flt], "should": should, "minimum_should_match": 1}},
            "size": depth, "_source": ["law_id"], "track_total_hits": False}
