"""The knowledge base on Elasticsearch: the same contract as the embedded store, on a server.

Every batch is a build: it writes a new versioned index and, once that index is complete and verified,
moves the alias to it in one atomic alias update. A batch that fails, or a process or node that dies
in the middle, leaves the alias on the previous complete index, and searches keep running against it
the whole time. An incremental batch starts from a clone of the current index (a hard-link copy, no
reindexing), replaces the changed documents, deletes the removed ones by id and re-derives only the
articles whose law or version changed; `rebuild` writes everything afresh. `cleanup` deletes old
generations. One writer at a time, as with the embedded store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from lawkb.core.errors import KBError
from lawkb.core.model import KIND_ARTICLE, law_key, split_parts_in_order
from lawkb.core.regions import normalize_region
from lawkb.core.versions import version_in_force

from . import mapping as m
from .build import Build, reuse_from_index
from .client import Locator, connect, parse_locator, translate_errors
from .retrieve import ElasticRetriever


class ElasticKB:
    """A knowledge base in Elasticsearch, named by a URL whose path is the index prefix."""

    backend = "elasticsearch"
    embeds_in_place = False   # vectors come with a new generation, which replaces the live one whole

    def __init__(self, locator: str, *, create: bool = False, client: Any = None) -> None:
        self.loc: Locator = parse_locator(locator)
        self.locator = str(self.loc)
        self.es = client or connect(self.loc)
        self.alias = m.alias_name(self.loc.prefix)
        # The model a build embeds new articles with: `encoder` when set, else what encoder_provider gives
        # the first time a build needs one (lawkb.search.open_kb provides the local model); None: no vectors.
        self.encoder = None
        self.encoder_provider: Callable[[], Any] | None = None
        # Where a build may find vectors by embed key before computing them (a test reuses another KB's).
        self.vector_lookup: Callable[[list[str]], dict[str, list[float]]] | None = None
        self.model_id: str | None = None
        self.last_build: dict[str, Any] = {}
        if not create and self.current_index() is None:
            raise KBError(f"no knowledge base at {self.locator} (run `lawkb ingest ... --kb {self.locator}` first)")

    # ---- plumbing ------------------------------------------------------------------------------

    def errors(self, what: str = ""):
        return translate_errors(self.loc.url, what)

    def current_index(self) -> str | None:
        with self.errors():
            if not self.es.indices.exists_alias(name=self.alias):
                return None
            names = list(self.es.indices.get_alias(name=self.alias).body)
        return names[0] if names else None

    def generations(self) -> list[dict]:
        """Every versioned index of this prefix, oldest first, with its size and whether it is live."""
        current = self.current_index()
        with self.errors():
            rows = self.es.cat.indices(index=m.index_pattern(self.loc.prefix), format="json",
                                       h="index,docs.count,store.size,health").body
        return sorted(({"index": r["index"], "docs": int(r["docs.count"] or 0), "size": r["store.size"],
                        "live": r["index"] == current} for r in rows), key=lambda r: r["index"])

    def cleanup(self, *, keep: int = 0) -> list[str]:
        """Delete generations the alias does not point to, except the `keep` newest of them (for rollback).
        A build still running is a generation too: run cleanup when no ingest is running."""
        old = [g["index"] for g in self.generations() if not g["live"]]
        doomed = old[:max(0, len(old) - keep)]
        with self.errors("cleanup"):
            for name in doomed:
                self.es.indices.delete(index=name, ignore_unavailable=True)
        return doomed

    def close(self) -> None:
        self.es.close()

    def scan(self, query: dict, *, index: str | None = None, includes: list[str] | None = None,
              excludes: list[str] | None = None) -> Iterator[dict]:
        from elasticsearch.helpers import scan

        source: Any = {"includes": includes or ["*"], "excludes": excludes or []}
        with self.errors():
            for hit in scan(self.es, index=index or self.alias, query={"query": query, "_source": source},
                            size=1000, scroll="5m"):
                yield hit["_source"]

    def _search(self, body: dict, index: str | None = None) -> list[dict]:
        with self.errors():
            return [h["_source"] for h in self.es.search(index=index or self.alias, **body)["hits"]["hits"]]

    def _count(self, query: dict, index: str | None = None) -> int:
        with self.errors():
            return self.es.count(index=index or self.alias, query=query)["count"]

    def meta(self) -> dict:
        with self.errors():
            from elasticsearch import NotFoundError

            try:
                return self.es.get(index=self.alias, id=m.META_ID)["_source"]
            except NotFoundError:
                return {}

    # ---- writing -------------------------------------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[Build]:
        build = Build(self)
        try:
            yield build
            build.commit()
        except BaseException:
            build.abandon()
            raise

    def rebuild(self, *, progress: bool = True) -> dict:
        """Write a new generation from scratch out of the current one's documents (re-deriving laws and
        articles, re-segmenting, reusing vectors by key) and swap the alias to it."""
        current = self.current_index()
        if current is None:
            raise KBError(f"no knowledge base at {self.locator} to rebuild")
        build = Build(self, fresh=True)
        try:
            build.reuse = reuse_from_index(self, current)
            build.copy_docs(self.scan({"term": {"doc_type": "doc"}}, index=current))
            build.commit(progress=progress)
        except BaseException:
            build.abandon()
            raise
        return self.last_build

    def load_embedded(self, source, *, progress: bool = True) -> dict:
        """A new generation holding exactly what an embedded KB holds, with its segmented terms and
        vectors (nothing is segmented or embedded again); the alias moves to it when it is complete."""
        from .from_embedded import load

        return load(self, source, progress=progress)

    # ---- reading -------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        def terms_agg(doc_type: str, field: str, size: int = 100) -> dict:
            with self.errors():
                r = self.es.search(index=self.alias, size=0, query={"term": {"doc_type": doc_type}},
                                   aggs={"a": {"terms": {"field": field, "size": size, "missing": "未知"}}})
            return {b["key"]: b["doc_count"] for b in r["aggregations"]["a"]["buckets"]}

        by_region = terms_agg("law", "region_province")
        by_region.pop("未知", None)
        return {
            "locator": self.locator, "backend": "elasticsearch", "index": self.current_index(),
            "documents": self._count({"term": {"doc_type": "doc"}}),
            "laws": self._count({"term": {"doc_type": "law"}}),
            "versions": sum(len(r.get("versions", [])) for r in self.scan(
                {"term": {"doc_type": "law"}}, includes=["versions.version_id"])),
            "articles": self._count({"bool": {"filter": [{"term": {"doc_type": "article"}},
                                                         {"term": {"kind": KIND_ARTICLE}}]}}),
            "units": self._count({"term": {"doc_type": "article"}}),
            "duplicate_documents": self._count({"bool": {"filter": [{"term": {"doc_type": "doc"}},
                                                                    {"term": {"canonical": False}}]}}),
            "by_level": terms_agg("law", "level"),
            "by_status": terms_agg("law", "status"),
            "by_region": by_region,
            "by_source": terms_agg("doc", "source_kind"),
            "laws_with_gaps": self._count({"bool": {"filter": [{"term": {"doc_type": "law"}},
                                                               {"term": {"has_gaps": True}}]}}),
        }

    _LAW_LIST = ["law_id", "key", "title", "short_title", "aliases", "level", "issuing_body", "region_province",
                 "region_city", "category", "status", "current_version", "replaced_by", "repealed_on",
                 "repeal_source", "n_versions", "law_title"]

    def laws(self, *, level: str | None = None, region: str | None = None, status: str | None = None,
             q: str | None = None) -> list[dict]:
        f: list[dict] = [{"term": {"doc_type": "law"}}]
        if level:
            f.append({"term": {"level": level}})
        if status:
            f.append({"term": {"status": status}})
        if region:
            reg = normalize_region(region)
            if reg is None:
                raise KBError(f"无法识别的地区“{region}”：请填写省或市，例如 北京、杭州")
            f.append({"term": {"region_province": reg.province}})
            if reg.city:
                f.append({"bool": {"should": [{"term": {"region_city": reg.city}},
                                              {"bool": {"must_not": {"exists": {"field": "region_city"}}}}]}})
        if q:
            pattern = "*" + q.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?") + "*"
            f.append({"bool": {"should": [{"wildcard": {"title": {"value": pattern}}},
                                          {"wildcard": {"aliases": {"value": pattern}}}]}})
        rows = list(self.scan({"bool": {"filter": f}}, includes=self._LAW_LIST))
        return sorted(rows, key=lambda r: r["title"])

    def find_laws(self, name: str) -> list[dict]:
        rows = self._search({"query": {"bool": {"filter": [{"term": {"doc_type": "law"}},
                                                           {"term": {"names": law_key(name)}}]}},
                             "size": 100, "_source": {"includes": self._LAW_LIST}})
        return sorted(rows, key=lambda r: r["title"])

    def law(self, law_id: str) -> dict | None:
        from elasticsearch import NotFoundError

        with self.errors():
            try:
                src = self.es.get(index=self.alias, id=m.law_doc_id(law_id),
                                  source_excludes=["names", "popularity", "sig", "doc_type"])["_source"]
            except NotFoundError:
                return None
        return src

    def version_for(self, law_id: str, as_of: str | None = None) -> dict | None:
        law = self.law(law_id)
        if law is None:
            return None
        if as_of is None:
            return next((v for v in law["versions"] if v["version_id"] == law["current_version"]), None)
        return version_in_force(law["versions"], as_of)

    def _articles_where(self, filters: list[dict], size: int = 10000) -> list[dict]:
        rows = self._search({"query": {"bool": {"filter": [{"term": {"doc_type": "article"}}, *filters]}},
                             "size": size, "sort": [{"order": "asc"}],
                             "_source": {"excludes": m.ARTICLE_HIDDEN}})
        return rows

    def article(self, law_id: str, number: int, sub: int = 0, *, as_of: str | None = None) -> dict | None:
        version = self.version_for(law_id, as_of)
        if version is None:
            return None
        rows = self._articles_where([{"term": {"version_id": version["version_id"]}},
                                     {"term": {"kind": KIND_ARTICLE}}, {"term": {"number": number}},
                                     {"term": {"sub": sub}}], size=1)
        return m.article_view(rows[0]) if rows else None

    def article_by_id(self, article_id: str) -> dict | None:
        rows = self.articles_by_ids([article_id])
        return rows.get(article_id)

    def articles_by_ids(self, ids: list[str], *, with_vector: bool = False) -> dict[str, dict]:
        if not ids:
            return {}
        hidden = [f for f in m.ARTICLE_HIDDEN if not (with_vector and f == "vector")]
        with self.errors():
            docs = self.es.mget(index=self.alias, ids=ids, source_excludes=hidden)["docs"]
        return {d["_id"]: d["_source"] for d in docs if d.get("found")}

    def articles(self, version_id: str) -> list[dict]:
        out = [m.article_view(r) for r in self.scan(
            {"bool": {"filter": [{"term": {"doc_type": "article"}}, {"term": {"version_id": version_id}}]}},
            excludes=m.ARTICLE_HIDDEN)]
        out.sort(key=lambda a: (a.get("part") is not None, a["doc_id"], a["seq"]))
        return split_parts_in_order(out)

    def sources_matching(self, pattern: str) -> list[str]:
        law_ids = [r["law_id"] for r in self.find_laws(pattern)] if pattern.strip() else []
        should = [{"term": {"source": pattern}}, {"prefix": {"source": pattern.rstrip("/") + "/"}},
                  {"term": {"title": pattern}}]
        if law_ids:
            should.append({"terms": {"law_id": law_ids}})
        rows = self.scan({"bool": {"filter": [{"term": {"doc_type": "doc"}}],
                                    "should": should, "minimum_should_match": 1}}, includes=["source"])
        return sorted(r["source"] for r in rows)

    def repeal_clauses(self) -> list[dict]:
        out = []
        rows = self.scan({"bool": {"filter": [{"term": {"doc_type": "doc"}}, {"term": {"canonical": True}}]}},
                          includes=["seq", "law_id", "version_id", "meta.extra.repeals"])
        laws: dict[str, dict] = {}
        for r in sorted(rows, key=lambda r: r["seq"]):
            clauses = ((r.get("meta") or {}).get("extra") or {}).get("repeals") or []
            if not clauses:
                continue
            law = laws.get(r["law_id"]) or self.law(r["law_id"]) or {}
            laws[r["law_id"]] = law
            version = next((v for v in law.get("versions", []) if v["version_id"] == r["version_id"]), {})
            for clause in clauses:
                aid = f"{r['version_id']}#{clause.get('article', '')}"
                art = self.article_by_id(aid)
                for name in clause["titles"]:
                    out.append({"name": name, "law_id": r["law_id"], "law_title": law.get("title"),
                                "article_id": aid, "article_no": art["article_no"] if art else None,
                                "effective": version.get("effective") or version.get("version_date"),
                                "text": clause.get("text", "")})
        return out



    # ---- capabilities --------------------------------------------------------------------------

    def index(self, *, workers: int | None = None, rebuild: bool = False) -> dict:
        """Elasticsearch indexes as it ingests; rebuild writes a new generation, segmented again."""
        if not rebuild:
            return {"segmented": 0, "note": "Elasticsearch indexes articles as it ingests them: nothing to do "
                                            "(--rebuild writes a new generation, segmented again)"}
        info = self.rebuild()
        return {"segmented": info["articles_written"], "index": info["index"], "seconds": info["seconds"]}

    def missing_vectors(self, model_id: str) -> int:
        meta = self.meta()
        if meta.get("model") not in (None, model_id):
            return int(meta.get("articles", 0))
        return max(0, int(meta.get("articles", 0)) - int(meta.get("vectors", 0)))

    def embed(self, encoder, *, batch_size: int = 32, workers: int | None = None, progress=None,
              commit_every: int = 2048, scope_done=None) -> int:
        """A new generation with the missing vectors filled in (the others reused by key)."""
        self.encoder = encoder
        return self.rebuild(progress=progress is not None)["articles_written"]

    def retriever(self, **options) -> ElasticRetriever:
        """options: ElasticRetriever's num_candidates (HNSW candidates per shard)."""
        return ElasticRetriever(self, **options)
