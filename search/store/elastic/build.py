"""Writing an Elasticsearch knowledge base: each batch is a build of a new versioned index (a clone of
the live one, or fresh), verified, then put behind the alias in one atomic update. Laws and versions
are derived again from every document (lawkb.core.versions); articles only where their version changed."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from lawkb.core import settings
from lawkb.core.errors import KBError
from lawkb.core.model import LOCAL_LEVELS, ParsedDocument, law_key
from lawkb.core.segment import segmenter
from lawkb.core.versions import (
    DocSummary,
    article_gaps,
    article_ids,
    identify_untitled,
    resolve,
    validity,
)
from lawkb.search.store.embedded.vectors import embed_text, key_of
from lawkb.search.store.popularity import log_counts

from . import mapping as m

SCHEMA = 1
BULK_CHUNK = 250
BULK_BYTES = 20 << 20

# (keys) -> {embed_key: (terms or None, vector or None)}: where a build finds work already done.
Reuse = Callable[[list[str]], dict[str, tuple[str | None, list[float] | None]]]


class Build:
    """One generation being written. Implements the Batch protocol for `ingest`."""

    def __init__(self, kb: Any, *, fresh: bool = False) -> None:
        # kb: the ElasticKB being written (not imported: kb.py imports this module)
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
            for r in kb.scan({"term": {"doc_type": "doc"}}, index=self.base,
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
        with self.kb.errors("creating a new index"):
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
            self.reuse = reuse_from_index(self.kb, name)

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
        with self.kb.errors("bulk write"):
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
        with self.kb.errors("refresh"):
            es.indices.refresh(index=idx)
        docs = {r["seq"]: r for r in self.kb.scan({"term": {"doc_type": "doc"}}, index=idx,
                                                   excludes=["units", "hashes"])}
        summaries = [_summary(r) for r in docs.values()]
        summaries.sort(key=lambda s: s.doc_id)
        identify_untitled(summaries, lambda s: self._owners(s, idx))
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
        with self.kb.errors("verify"):
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
        with self.kb.errors("alias swap"):
            self.es.indices.put_settings(index=self.index, settings={"index.refresh_interval": "1s"})
            self.es.indices.update_aliases(actions=actions)
        self.index = None   # committed: abandon() must not delete it

    def _owners(self, s: DocSummary, idx: str) -> tuple[list[str], dict[str, set[int]]]:
        """The text hashes of s's first long articles, and the documents holding each."""
        hashes = s.meta.get("_head_hashes") or []
        if not hashes:
            return [], {}
        holders = list(self.kb.scan({"bool": {"filter": [{"term": {"doc_type": "doc"}},
                                                          {"terms": {"hashes": hashes}}]}},
                                     index=idx, includes=["seq", "hashes"]))
        return hashes, {h: {r["seq"] for r in holders if h in r["hashes"]} for h in hashes}

    def _article_actions(self, versions: list[str], plan: _Plan, docs: dict[int, dict],
                         doc_updates: dict[int, dict], new_ids: set[str], model: dict) -> Iterator[dict]:
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
                ids = article_ids(vid, [u["key"] for u in doc["units"]], taken)
                for u, aid in zip(doc["units"], ids, strict=True):
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
        with self.kb.errors():
            got = self.es.mget(index=self.index, ids=[m.doc_id(s) for s in sources],
                               source_includes=["source", "source_kind", "seq", "part", "units"])["docs"]
        return {d["_source"]["source"]: d["_source"] for d in got if d.get("found")}

    def _encoder(self):
        """The model to embed new articles with: the store's, else its provider's (asked once)."""
        kb = self.kb
        if kb.encoder is None and kb.encoder_provider is not None:
            kb.encoder, kb.encoder_provider = kb.encoder_provider(), None
        return kb.encoder

    def _write_laws(self, plan: _Plan, idx: str) -> None:
        existing = {r["law_id"]: r.get("sig") for r in self.kb.scan({"term": {"doc_type": "law"}}, index=idx,
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
    plan = _Plan()
    counts: dict[str, int] = {}
    for law in laws:
        for v in law.versions:
            for d in v.doc_ids:
                for k, n in (docs[d].get("cites") or {}).items():
                    counts[k] = counts.get(k, 0) + n
    raw = dict(zip((law.law_id for law in laws), log_counts(counts, [law.title for law in laws]), strict=True))
    top = max(raw.values(), default=0.0) or 1.0
    for law in laws:
        meta = law.meta
        province, city, level = meta.get("region_province"), meta.get("region_city"), meta.get("level")
        names = {law_key(law.title), law_key(law.short_title), *(law_key(a) for a in law.aliases)}
        ranges = validity(law.versions, law.repealed_on)
        versions = []
        for seq, (v, (start, end)) in enumerate(zip(law.versions, ranges, strict=True)):
            names.add(law_key(v.title))
            gaps = article_gaps(k for d in v.doc_ids for k in docs[d].get("keys") or ())
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
    return segmenter().signature


def reuse_from_index(kb: Any, index: str) -> Reuse:
    """Terms and vectors of articles an index already holds, by embed key (same text, same vector)."""
    same_segmenter = kb.meta().get("segmenter") in (None, _segmenter_signature())

    def lookup(keys: list[str]) -> dict[str, tuple[str | None, list[float] | None]]:
        out: dict[str, tuple[str | None, list[float] | None]] = {}
        for i in range(0, len(keys), 2000):
            chunk = keys[i:i + 2000]
            with kb.errors():
                hits = kb.es.search(index=index, size=len(chunk), query={"bool": {"filter": [
                    {"term": {"doc_type": "article"}}, {"terms": {"embed_key": chunk}}]}},
                    source_includes=["embed_key", "terms", "vector"], collapse={"field": "embed_key"},
                )["hits"]["hits"]
            for h in hits:
                s = h["_source"]
                out[s["embed_key"]] = (s.get("terms") if same_segmenter else None, s.get("vector"))
        return out

    return lookup
