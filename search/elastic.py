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

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from lawkb import settings
from lawkb.ingest.resolve import DocSummary, identify_by_articles, resolve
from lawkb.model import KIND_ARTICLE, LOCAL_LEVELS, ParsedDocument, law_key, split_parts_in_order
from lawkb.regions import normalize_region

from . import es_mapping as m
from .backend import KBError
from .es_client import Locator, connect, parse_locator, translate_errors
from .vectors import embed_text, key_of

SCHEMA = 1
BULK_CHUNK = 250
BULK_BYTES = 20 << 20

# (keys) -> {embed_key: (terms or None, vector or None)}: where a build finds work already done.
Reuse = Callable[[list[str]], dict[str, tuple[str | None, list[float] | None]]]


class ElasticKB:
    """A knowledge base in Elasticsearch, named by a URL whose path is the index prefix."""

    def __init__(self, locator: str, *, create: bool = False, client: Any = None) -> None:
        self.loc: Locator = parse_locator(locator)
        self.locator = str(self.loc)
        self.es = client or connect(self.loc)
        self.alias = m.alias_name(self.loc.prefix)
        self.encoder = None             # set, or resolved when a build needs vectors it cannot reuse
        self.use_model = True
        self.vector_lookup: Callable[[list[str]], dict[str, list[float]]] | None = None
        self.model_id: str | None = None
        self.last_build: dict[str, Any] = {}
        if not create and self.current_index() is None:
            raise KBError(f"no knowledge base at {self.locator} (run `lawkb ingest ... --kb {self.locator}` first)")

    # ---- plumbing ------------------------------------------------------------------------------

    def _errors(self, what: str = ""):
        return translate_errors(self.loc.url, what)

    def current_index(self) -> str | None:
        with self._errors():
            if not self.es.indices.exists_alias(name=self.alias):
                return None
            names = list(self.es.indices.get_alias(name=self.alias).body)
        return names[0] if names else None

    def generations(self) -> list[dict]:
        """Every versioned index of this prefix, oldest first, with its size and whether it is live."""
        current = self.current_index()
        with self._errors():
            rows = self.es.cat.indices(index=m.index_pattern(self.loc.prefix), format="json",
                                       h="index,docs.count,store.size,health").body
        return sorted(({"index": r["index"], "docs": int(r["docs.count"] or 0), "size": r["store.size"],
                        "live": r["index"] == current} for r in rows), key=lambda r: r["index"])

    def cleanup(self, *, keep: int = 0) -> list[str]:
        """Delete generations the alias does not point to, except the `keep` newest of them (for rollback).
        A build still running is a generation too: run cleanup when no ingest is running."""
        old = [g["index"] for g in self.generations() if not g["live"]]
        doomed = old[:max(0, len(old) - keep)]
        with self._errors("cleanup"):
            for name in doomed:
                self.es.indices.delete(index=name, ignore_unavailable=True)
        return doomed

    def close(self) -> None:
        self.es.close()

    def _scan(self, query: dict, *, index: str | None = None, includes: list[str] | None = None,
              excludes: list[str] | None = None) -> Iterator[dict]:
        from elasticsearch.helpers import scan

        source: Any = {"includes": includes or ["*"], "excludes": excludes or []}
        with self._errors():
            for hit in scan(self.es, index=index or self.alias, query={"query": query, "_source": source},
                            size=1000, scroll="5m"):
                yield hit["_source"]

    def _search(self, body: dict, index: str | None = None) -> list[dict]:
        with self._errors():
            return [h["_source"] for h in self.es.search(index=index or self.alias, **body)["hits"]["hits"]]

    def _count(self, query: dict, index: str | None = None) -> int:
        with self._errors():
            return self.es.count(index=index or self.alias, query=query)["count"]

    def meta(self) -> dict:
        with self._errors():
            from elasticsearch import NotFoundError

            try:
                return self.es.get(index=self.alias, id=m.META_ID)["_source"]
            except NotFoundError:
                return {}

    # ---- writing -------------------------------------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[_Build]:
        build = _Build(self)
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
        build = _Build(self, fresh=True)
        try:
            build.reuse = _reuse_from_index(self, current)
            build.copy_docs(self._scan({"term": {"doc_type": "doc"}}, index=current))
            build.commit(progress=progress)
        except BaseException:
            build.abandon()
            raise
        return self.last_build

    def load_embedded(self, source, *, progress: bool = True) -> dict:
        """A new generation holding exactly what an embedded KB holds, with its segmented terms and
        vectors (nothing is segmented or embedded again); the alias moves to it when it is complete."""
        from .embedded import EmbeddedKB
        from .text import segmenter

        assert isinstance(source, EmbeddedKB)
        build = _Build(self, fresh=True)
        try:
            build.reuse, self.model_id = _reuse_from_embedded(source, segmenter().signature)
            build.copy_docs(_embedded_doc_records(source))
            build.commit(progress=progress)
        except BaseException:
            build.abandon()
            raise
        return self.last_build

    # ---- reading -------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        def terms_agg(doc_type: str, field: str, size: int = 100) -> dict:
            with self._errors():
                r = self.es.search(index=self.alias, size=0, query={"term": {"doc_type": doc_type}},
                                   aggs={"a": {"terms": {"field": field, "size": size, "missing": "未知"}}})
            return {b["key"]: b["doc_count"] for b in r["aggregations"]["a"]["buckets"]}

        by_region = terms_agg("law", "region_province")
        by_region.pop("未知", None)
        return {
            "locator": self.locator, "backend": "elasticsearch", "index": self.current_index(),
            "documents": self._count({"term": {"doc_type": "doc"}}),
            "laws": self._count({"term": {"doc_type": "law"}}),
            "versions": sum(len(r.get("versions", [])) for r in self._scan(
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
                raise KBError(f"unknown region: {region}")
            f.append({"term": {"region_province": reg.province}})
            if reg.city:
                f.append({"bool": {"should": [{"term": {"region_city": reg.city}},
                                              {"bool": {"must_not": {"exists": {"field": "region_city"}}}}]}})
        if q:
            pattern = "*" + q.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?") + "*"
            f.append({"bool": {"should": [{"wildcard": {"title": {"value": pattern}}},
                                          {"wildcard": {"aliases": {"value": pattern}}}]}})
        rows = list(self._scan({"bool": {"filter": f}}, includes=self._LAW_LIST))
        return sorted(rows, key=lambda r: r["title"])

    def find_laws(self, name: str) -> list[dict]:
        rows = self._search({"query": {"bool": {"filter": [{"term": {"doc_type": "law"}},
                                                           {"term": {"names": law_key(name)}}]}},
                             "size": 100, "_source": {"includes": self._LAW_LIST}})
        return sorted(rows, key=lambda r: r["title"])

    def law(self, law_id: str) -> dict | None:
        from elasticsearch import NotFoundError

        with self._errors():
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
        chosen = None
        for v in law["versions"]:
            start = v["effective"] or v["version_date"]
            if start is None or start <= as_of:
                chosen = v
        return chosen

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
        with self._errors():
            docs = self.es.mget(index=self.alias, ids=ids, source_excludes=hidden)["docs"]
        return {d["_id"]: d["_source"] for d in docs if d.get("found")}

    def articles(self, version_id: str) -> list[dict]:
        out = [m.article_view(r) for r in self._scan(
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
        rows = self._scan({"bool": {"filter": [{"term": {"doc_type": "doc"}}],
                                    "should": should, "minimum_should_match": 1}}, includes=["source"])
        return sorted(r["source"] for r in rows)

    def repeal_clauses(self) -> list[dict]:
        out = []
        rows = self._scan({"bool": {"filter": [{"term": {"doc_type": "doc"}}, {"term": {"canonical": True}}]}},
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


class _Build:
    """One generation being written. Implements the Batch protocol for `ingest`."""

    def __init__(self, kb: ElasticKB, *, fresh: bool = False) -> None:
        self.kb = kb
        self.es = kb.es
        self.base = kb.current_index()
        self.fresh = fresh or self.base is None or kb.meta().get("schema") != SCHEMA
        self.index: str | None = None
        self.reuse: Reuse | None = None
        self.prev: dict[str, dict] = {}     # source -> {sha256, seq, article_ids} in the base generation
        self.pending: list[dict] = []
        self.dirty = False
        self.errors: list[str] = []
        if self.base is not None and not fresh:
            for r in kb._scan({"term": {"doc_type": "doc"}}, index=self.base,
                              includes=["source", "sha256", "seq", "article_ids"]):
                self.prev[r["source"]] = r
        self.next_seq = max((r["seq"] for r in self.prev.values()), default=0) + 1

    # Batch protocol ------------------------------------------------------------------------------

    def sources(self) -> dict[str, str]:
        return {s: r["sha256"] for s, r in self.prev.items()}

    def put(self, doc: ParsedDocument, size: int) -> None:
        self._open()
        record = m.doc_record(doc, size, self.next_seq)
        self.next_seq += 1
        self.pending.append({"_op_type": "index", "_id": m.doc_id(doc.source), "_source": record})
        self.dirty = True
        if len(self.pending) >= BULK_CHUNK:
            self._flush()

    def remove(self, source: str) -> None:
        self._open()
        self.pending.append({"_op_type": "delete", "_id": m.doc_id(source)})
        self.dirty = True

    # building --------------------------------------------------------------------------------------

    def _open(self) -> None:
        if self.index is not None:
            return
        name = m.new_index_name(self.kb.loc.prefix)
        replicas = settings.get("es_replicas")
        with self.kb._errors("creating a new index"):
            if self.fresh:
                self.es.indices.create(index=name, **m.index_body(replicas=replicas,
                                                                  vectors=settings.get("es_vectors")))
            else:
                # Clone needs a write-blocked source; the live generation is never written again anyway.
                self.es.indices.put_settings(index=self.base, settings={"index.blocks.write": True})
                self.es.indices.clone(index=self.base, target=name, wait_for_active_shards="1",
                                      settings={"index.number_of_replicas": replicas})
                self.es.indices.put_settings(index=name, settings={"index.blocks.write": False,
                                                                   "index.refresh_interval": "-1"})
        self.index = name
        if not self.fresh and self.reuse is None:
            self.reuse = _reuse_from_index(self.kb, name)

    def copy_docs(self, records: Iterable[dict]) -> None:
        """Doc records from elsewhere (a previous generation, an embedded KB) into a fresh build."""
        self._open()
        for rec in records:
            rec = {**rec, "law_id": None, "version_id": None, "canonical": False, "indexed_sig": None,
                   "article_ids": []}
            self.pending.append({"_op_type": "index", "_id": m.doc_id(rec["source"]), "_source": rec})
            self.dirty = True
            if len(self.pending) >= BULK_CHUNK:
                self._flush()
        self._flush()

    def _flush(self) -> None:
        if self.pending:
            actions, self.pending = self.pending, []
            self._bulk(actions)

    def _bulk(self, actions: Iterable[dict], progress=None) -> int:
        from elasticsearch.helpers import streaming_bulk

        ok = 0
        with self.kb._errors("bulk write"):
            for success, item in streaming_bulk(self.es, actions, index=self.index, chunk_size=BULK_CHUNK,
                                                max_chunk_bytes=BULK_BYTES, raise_on_error=False,
                                                raise_on_exception=True, max_retries=3):
                if success:
                    ok += 1
                else:
                    op, info = next(iter(item.items()))
                    if op == "delete" and info.get("status") == 404:
                        continue
                    err = info.get("error")
                    reason = err.get("reason") if isinstance(err, dict) else err
                    self.errors.append(f"{op} {info.get('_id')}: {reason}")
                if progress is not None:
                    progress.update(1)
        return ok

    def abandon(self) -> None:
        """Drop the unfinished generation; the alias never pointed at it."""
        if self.index is None:
            return
        try:
            self.es.indices.delete(index=self.index, ignore_unavailable=True)
        except Exception:  # noqa: BLE001 - the node may be gone; `lawkb es-indices --cleanup` removes it later
            pass
        self.index = None

    def commit(self, *, progress: bool = True) -> None:
        if not self.dirty or self.index is None:
            self.abandon()
            return
        t0 = time.perf_counter()
        es, idx = self.es, self.index
        self._flush()
        with self.kb._errors("refresh"):
            es.indices.refresh(index=idx)
        docs = {r["seq"]: r for r in self.kb._scan({"term": {"doc_type": "doc"}}, index=idx,
                                                   excludes=["units", "hashes"])}
        summaries = [_summary(r) for r in docs.values()]
        summaries.sort(key=lambda s: s.doc_id)
        self._identify_untitled(summaries, idx)
        laws = resolve(summaries, settings.today())
        plan = _plan(laws, docs)
        # Articles: every version whose context or documents changed is derived again.
        touched = {vid for vid, ctx in plan.versions.items()
                   if any(docs[d]["indexed_sig"] != ctx["sig"] or docs[d]["version_id"] != vid
                          or not docs[d]["canonical"] for d in ctx["doc_ids"])}
        old_ids: set[str] = set()
        for source, r in self.prev.items():
            new = docs.get(r["seq"])
            if new is None or new["source"] != source:   # removed or replaced in this batch
                old_ids.update(r.get("article_ids") or [])
        doc_updates: dict[int, dict] = {}
        for seq, r in docs.items():
            law_id, vid, canon = plan.assignment.get(seq, (None, None, False))
            if canon and vid in touched:
                old_ids.update(r.get("article_ids") or [])
            elif not canon and (r.get("article_ids") or r["canonical"] or r["version_id"] != vid):
                old_ids.update(r.get("article_ids") or [])
                doc_updates[seq] = {"law_id": law_id, "version_id": vid, "canonical": False,
                                    "indexed_sig": None, "article_ids": []}
            elif r["version_id"] != vid or r["law_id"] != law_id:
                doc_updates[seq] = {"law_id": law_id, "version_id": vid}
        bar = None
        if progress:
            from tqdm import tqdm

            total = sum(docs[d]["n_units"] for v in touched for d in plan.versions[v]["doc_ids"])
            bar = tqdm(total=total or None, unit="article", desc="index", file=sys.stderr, disable=None)
        new_ids: set[str] = set()
        model = {"id": None}
        try:
            written = self._bulk(self._article_actions(sorted(touched), plan, docs, doc_updates, new_ids, model),
                                 progress=bar)
        finally:
            if bar is not None:
                bar.close()
        stale = old_ids - new_ids
        self._bulk({"_op_type": "delete", "_id": i} for i in stale)
        self._bulk({"_op_type": "update", "_id": m.doc_id(docs[seq]["source"]), "doc": upd}
                   for seq, upd in doc_updates.items())
        self._write_laws(plan, idx)
        meta = self.kb.meta() if not self.fresh else {}
        model_id = model["id"] or self.kb.model_id or meta.get("model")
        expected_articles = sum(docs[d]["n_units"] for ctx in plan.versions.values() for d in ctx["doc_ids"])
        with self.kb._errors("verify"):
            es.indices.refresh(index=idx)
            n_vec = es.count(index=idx, query={"bool": {"filter": [{"term": {"doc_type": "article"}},
                                                                    {"exists": {"field": "vector"}}]}})["count"]
            es.index(index=idx, id=m.META_ID, document={
                "doc_type": "meta", "schema": SCHEMA, "model": model_id, "vectors": n_vec,
                "segmenter": _segmenter_signature(), "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "articles": expected_articles, "documents": len(docs), "laws": len(laws)})
            es.indices.refresh(index=idx)
            counts = {t: es.count(index=idx, query={"term": {"doc_type": t}})["count"]
                      for t in ("article", "doc", "law")}
        want = {"article": expected_articles, "doc": len(docs), "law": len(laws)}
        if counts != want:
            raise KBError(f"build {idx} is incomplete ({counts} stored, {want} expected; "
                          f"first errors: {self.errors[:3]}); the knowledge base is unchanged")
        self._swap()
        self.kb.last_build = {"index": idx, "base": self.base, "articles_written": written,
                              "articles_deleted": len(stale), "versions_rebuilt": len(touched),
                              "errors": self.errors, "seconds": round(time.perf_counter() - t0, 1)}

    def _swap(self) -> None:
        actions: list[dict] = [{"add": {"index": self.index, "alias": self.kb.alias}}]
        if self.base is not None:
            actions.insert(0, {"remove": {"index": self.base, "alias": self.kb.alias}})
        with self.kb._errors("alias swap"):
            self.es.indices.put_settings(index=self.index, settings={"index.refresh_interval": "1s"})
            self.es.indices.update_aliases(actions=actions)
        self.index = None   # committed: abandon() must not delete it

    def _identify_untitled(self, summaries: list[DocSummary], idx: str) -> None:
        """A document named only by its file name or metadata takes the title of the law whose articles it
        reproduces, as the embedded store does."""
        weak = [s for s in summaries if s.meta.get("title_source") not in (None, "body")]
        if not weak:
            return
        titled = {s.doc_id: s.title for s in summaries if s.meta.get("title_source") in (None, "body")}
        for s in weak:
            hashes = s.meta.get("_head_hashes") or []
            if not hashes:
                continue
            holders = list(self.kb._scan({"bool": {"filter": [{"term": {"doc_type": "doc"}},
                                                              {"terms": {"hashes": hashes}}]}},
                                         index=idx, includes=["seq", "hashes"]))
            identify_by_articles(s, [
                {titled[r["seq"]] for r in holders
                 if r["seq"] != s.doc_id and r["seq"] in titled and h in r["hashes"]}
                for h in hashes])

    def _article_actions(self, versions: list[str], plan: _Plan, docs: dict[int, dict],
                         doc_updates: dict[int, dict], new_ids: set[str], model: dict) -> Iterator[dict]:
        from .text import segmenter

        seg = segmenter()
        title_terms_cache: dict[str, str] = {}
        for vid in versions:
            ctx = plan.versions[vid]
            law = plan.laws[ctx["law_id"]]
            if ctx["law_id"] not in title_terms_cache:
                title_terms_cache[ctx["law_id"]] = " ".join(seg.terms(" ".join([law["title"], *law["aliases"]])))
            title_terms = title_terms_cache[ctx["law_id"]]
            full = self._units_of([docs[d]["source"] for d in ctx["doc_ids"]])
            taken: set[str] = set()
            pending: list[tuple[dict, dict, str, str, str]] = []
            for d in ctx["doc_ids"]:
                doc = full[docs[d]["source"]]
                ids = []
                for u in doc["units"]:
                    aid, n = f"{vid}#{u['key']}", 2
                    while aid in taken:  # parts of one version that repeat a key (rare): keep both
                        aid, n = f"{vid}#{u['key']}~{n}", n + 1
                    taken.add(aid)
                    ids.append(aid)
                    etext = embed_text(ctx["law_title"], u["number_text"], u["kind"], u["text"])
                    pending.append((u, doc, aid, etext, key_of(etext)))
                doc_updates[d] = {"law_id": ctx["law_id"], "version_id": vid, "canonical": True,
                                  "indexed_sig": ctx["sig"], "article_ids": ids}
            keys = list({p[4] for p in pending})
            cached = self.reuse(keys) if self.reuse else {}
            if self.kb.vector_lookup is not None:
                missing = [k for k in keys if cached.get(k, (None, None))[1] is None]
                for k, vec in self.kb.vector_lookup(missing).items():
                    cached[k] = (cached.get(k, (None, None))[0], vec)
            vectors = {k: v for k, (_, v) in cached.items() if v is not None}
            todo = {p[4]: p[3] for p in pending if p[4] not in vectors}
            enc = self._encoder() if todo else None
            if enc is not None:
                model["id"] = enc.model_id
                texts = list(todo.items())
                embedded = enc.encode_passages([t for _, t in texts])
                for (k, _), v in zip(texts, embedded, strict=True):
                    vectors[k] = [float(x) for x in v]
            path_cache: dict[tuple, str] = {}
            for u, doc, aid, _etext, k in pending:
                terms = cached.get(k, (None, None))[0]
                if terms is None:
                    terms = seg.index_string(u["text"])
                pk = tuple(u["path"])
                if pk not in path_cache:
                    path_cache[pk] = " ".join(seg.terms(" ".join(u["path"])))
                new_ids.add(aid)
                yield {"_op_type": "index", "_id": aid, "_source": m.article_record(
                    u, doc, aid, ctx, terms=terms, title_terms=title_terms, path_terms=path_cache[pk],
                    embed_key=k, vector=vectors.get(k))}

    def _units_of(self, sources: list[str]) -> dict[str, dict]:
        with self.kb._errors():
            got = self.es.mget(index=self.index, ids=[m.doc_id(s) for s in sources],
                               source_includes=["source", "source_kind", "seq", "part", "units"])["docs"]
        return {d["_source"]["source"]: d["_source"] for d in got if d.get("found")}

    def _encoder(self):
        if self.kb.encoder is None and self.kb.use_model:
            from .encoder import resolve_model

            self.kb.encoder = resolve_model(allow_download=False)
            self.kb.use_model = self.kb.encoder is not None
        return self.kb.encoder

    def _write_laws(self, plan: _Plan, idx: str) -> None:
        existing = {r["law_id"]: r.get("sig") for r in self.kb._scan({"term": {"doc_type": "law"}}, index=idx,
                                                                    includes=["law_id", "sig"])}
        actions = [{"_op_type": "delete", "_id": m.law_doc_id(i)} for i in existing if i not in plan.laws]
        actions += [{"_op_type": "index", "_id": m.law_doc_id(i), "_source": rec}
                    for i, rec in plan.laws.items() if existing.get(i) != rec["sig"]]
        self._bulk(actions)


class _Plan:
    def __init__(self) -> None:
        self.laws: dict[str, dict] = {}         # law_id -> law record
        self.versions: dict[str, dict] = {}     # version_id -> article context
        self.assignment: dict[int, tuple[str, str, bool]] = {}


def _summary(r: dict) -> DocSummary:
    meta = r.get("meta") or {}
    extra = meta.get("extra") or {}
    return DocSummary(
        doc_id=r["seq"], source=r["source"], source_kind=r["source_kind"], title=r["title"],
        version_date=r["version_date"], effective=r["effective"], n_articles=r["n_articles"],
        keys=frozenset(r.get("keys") or ()), part=r["part"], status=r["status"],
        meta={**{k: meta.get(k) for k in ("level", "issuing_body", "region_province", "region_city",
                                          "category", "aliases", "adopted", "promulgated")},
              "title_source": extra.get("title_source"), "_head_hashes": r.get("head_hashes") or []},
        repeals=extra.get("repeals", []),
    )


def _plan(laws, docs: dict[int, dict]) -> _Plan:
    """Law records, and for every version the fields its articles carry, from resolved laws."""
    import math

    plan = _Plan()
    counts: dict[str, int] = {}
    for law in laws:
        for v in law.versions:
            for d in v.doc_ids:
                for k, n in (docs[d].get("cites") or {}).items():
                    counts[k] = counts.get(k, 0) + n
    raw = {law.law_id: math.log1p(counts.get(law_key(law.title), 0)) for law in laws}
    top = max(raw.values(), default=0.0) or 1.0
    for law in laws:
        meta = law.meta
        province, city, level = meta.get("region_province"), meta.get("region_city"), meta.get("level")
        names = {law_key(law.title), law_key(law.short_title), *(law_key(a) for a in law.aliases)}
        ranges = []
        for i, v in enumerate(law.versions):
            start = m.date_int(v.effective or v.version_date)
            nxt = law.versions[i + 1] if i + 1 < len(law.versions) else None
            end = m.date_int(nxt.effective or nxt.version_date, m.FAR_FUTURE) if nxt else m.FAR_FUTURE
            if law.repealed_on and end == m.FAR_FUTURE:
                end = m.date_int(law.repealed_on)
            ranges.append((start, end))
        versions = []
        for seq, (v, (start, end)) in enumerate(zip(law.versions, ranges, strict=True)):
            names.add(law_key(v.title))
            keys_v: set[int] = set()
            for d in v.doc_ids:
                keys_v |= {int(k) for k in docs[d].get("keys") or () if k.isdigit()}
            gaps = [n for n in range(1, max(keys_v) + 1) if n not in keys_v] if keys_v else []
            history: list = []
            for d in v.doc_ids:
                history = (docs[d].get("meta") or {}).get("history") or []
                if history:
                    break
            members = sorted(v.doc_ids + v.duplicate_doc_ids, key=lambda d: (d not in v.doc_ids, d))
            versions.append({
                "version_id": v.version_id, "law_id": law.law_id, "seq": seq, "version_date": v.version_date,
                "effective": v.effective, "status": v.status, "title": v.title, "doc_ids": v.doc_ids,
                "duplicate_doc_ids": v.duplicate_doc_ids, "history": history, "gaps": gaps,
                "sources": [docs[d]["source"] for d in members]})
            ctx = {"law_id": law.law_id, "version_id": v.version_id, "law_title": law.title, "level": level,
                   "province": province, "city": city,
                   "is_local": province is not None or level in LOCAL_LEVELS, "status": v.status,
                   "law_status": law.status, "version_date": v.version_date, "effective": v.effective,
                   "valid_from": start, "valid_to": end, "doc_ids": list(v.doc_ids),
                   "aliases": law.aliases}
            ctx["sig"] = m.sig(ctx)
            plan.versions[v.version_id] = ctx
            for d in v.doc_ids:
                plan.assignment[d] = (law.law_id, v.version_id, True)
            for d in v.duplicate_doc_ids:
                plan.assignment[d] = (law.law_id, v.version_id, False)
        rec = {"doc_type": "law", "law_id": law.law_id, "key": law.key, "title": law.title,
               "law_title": law.title, "short_title": law.short_title, "aliases": law.aliases, "level": level,
               "issuing_body": meta.get("issuing_body"), "region_province": province, "region_city": city,
               "category": meta.get("category"), "status": law.status, "current_version": law.current_version,
               "replaced_by": law.replaced_by, "repealed_on": law.repealed_on,
               "repeal_source": law.repeal_source, "n_versions": len(law.versions), "versions": versions,
               "names": sorted(n for n in names if n), "has_gaps": any(v["gaps"] for v in versions),
               "popularity": raw[law.law_id] / top}
        rec["sig"] = m.sig(rec)
        plan.laws[law.law_id] = rec
    return plan


def _segmenter_signature() -> str:
    from .text import segmenter

    return segmenter().signature


def _reuse_from_index(kb: ElasticKB, index: str) -> Reuse:
    """Terms and vectors of articles an index already holds, by embed key (same text, same vector)."""
    same_segmenter = kb.meta().get("segmenter") in (None, _segmenter_signature())

    def lookup(keys: list[str]) -> dict[str, tuple[str | None, list[float] | None]]:
        out: dict[str, tuple[str | None, list[float] | None]] = {}
        for i in range(0, len(keys), 2000):
            chunk = keys[i:i + 2000]
            with kb._errors():
                hits = kb.es.search(index=index, size=len(chunk), query={"bool": {"filter": [
                    {"term": {"doc_type": "article"}}, {"terms": {"embed_key": chunk}}]}},
                    source_includes=["embed_key", "terms", "vector"], collapse={"field": "embed_key"},
                )["hits"]["hits"]
            for h in hits:
                s = h["_source"]
                out[s["embed_key"]] = (s.get("terms") if same_segmenter else None, s.get("vector"))
        return out

    return lookup


def _reuse_from_embedded(source, signature: str) -> tuple[Reuse, str | None]:
    """Terms (when segmented by the same dictionary) and vectors from an embedded KB, by embed key."""
    import numpy as np

    from .vectors import embed_inputs

    conn = source.conn
    row = conn.execute("SELECT value FROM meta WHERE key='segmenter'").fetchone()
    same = row is not None and row[0] == signature
    terms_of = dict(conn.execute("SELECT unit_id, terms FROM units WHERE article_id IS NOT NULL")) if same else {}
    by_key: dict[str, str | None] = {}
    for unit_id, key, _ in embed_inputs(conn):
        by_key.setdefault(key, terms_of.get(unit_id))
    models = conn.execute("SELECT model, count(*) FROM vectors GROUP BY model ORDER BY 2 DESC").fetchall()
    model_id = models[0][0] if models else None

    def lookup(keys: list[str]) -> dict[str, tuple[str | None, list[float] | None]]:
        vecs = {}
        for i in range(0, len(keys), 900):
            chunk = keys[i:i + 900]
            q = f"SELECT key, vec FROM vectors WHERE model=? AND key IN ({','.join('?' * len(chunk))})"
            for k, blob in conn.execute(q, [model_id, *chunk]):
                vecs[k] = np.frombuffer(blob, dtype=np.float32).tolist()
        return {k: (by_key.get(k), vecs.get(k)) for k in keys if k in by_key or k in vecs}

    return lookup, model_id


def _embedded_doc_records(source) -> Iterator[dict]:
    """Doc records rebuilt from an embedded KB's tables (documents as parsed, units in order)."""
    import json

    conn = source.conn
    for d in conn.execute("SELECT * FROM documents ORDER BY doc_id").fetchall():
        units = [{
            "seq": u["seq"], "kind": u["kind"], "key": u["key"], "number_text": u["number_text"],
            "number": u["number"], "sub": u["sub"], "path": json.loads(u["path"]), "heading": u["heading"],
            "text": u["text"], "paragraphs": json.loads(u["paragraphs"]), "line_start": u["line_start"],
            "line_end": u["line_end"], "page_start": u["page_start"], "page_end": u["page_end"],
            "text_hash": u["text_hash"]}
            for u in conn.execute("SELECT * FROM units WHERE doc_id=? ORDER BY seq", (d["doc_id"],))]
        yield m.make_doc_record(
            source=d["source"], source_kind=d["source_kind"], sha256=d["sha256"], size=d["size"], title=d["title"],
            version_date=d["version_date"], effective=d["effective"], part=d["part"], status=d["status"],
            meta=json.loads(d["meta"]), units=units, seq=d["doc_id"], ingested_at=d["ingested_at"])
