"""What the Elasticsearch backend stores, as plain functions: index names, the mapping, and the records.

One versioned index per build (``<prefix>-articles-<timestamp>``) holds a whole knowledge base, found
through the alias ``<prefix>-articles``, so swapping the alias switches everything at once:

- ``doc`` records: each ingested document exactly as parsed (its units with text, paragraphs and
  provenance, kept in ``_source`` only), plus what resolution assigned to it;
- ``law`` records: a law with its versions, as ``ingest.resolve`` made them;
- ``article`` records: one per searchable unit of a canonical document, with the filter fields of its
  law and version, the jieba-segmented text for BM25 and its vector;
- one ``meta`` record: the generation's segmenter, model and counts.

Only stock Elasticsearch 8.x features: keyword/integer/boolean fields, text with the built-in
``whitespace`` analyzer (the text is segmented by jieba before indexing, exactly as the embedded
backend segments it), and ``dense_vector`` (cosine, HNSW).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import asdict, fields
from typing import Any

from lawkb.core.model import KIND_ARTICLE, ParsedDocument, text_hash, unit_keys
from lawkb.search.store.popularity import cited_names

ARTICLES = "articles"
DIMS = 512


def alias_name(prefix: str) -> str:
    return f"{prefix}-{ARTICLES}"


def new_index_name(prefix: str) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S%f")
    return f"{prefix}-{ARTICLES}-{stamp}"


def index_pattern(prefix: str) -> str:
    return f"{prefix}-{ARTICLES}-*"


def _ws() -> dict:
    return {"type": "text", "analyzer": "whitespace"}


def index_body(*, replicas: int = 0, vectors: str = "hnsw", dims: int = DIMS) -> dict:
    """Settings and mapping of a new generation. Unmapped fields (document units, histories) stay in
    _source without being indexed."""
    if vectors not in ("hnsw", "int8_hnsw"):
        raise ValueError(f"es_vectors must be hnsw or int8_hnsw, not {vectors!r}")
    kw = {"type": "keyword"}
    return {
        "settings": {"number_of_shards": 1, "number_of_replicas": replicas, "refresh_interval": "-1",
                     "max_result_window": 10000},
        "mappings": {
            "dynamic": False,
            "properties": {
                "doc_type": kw,
                # article
                "article_id": kw, "law_id": kw, "version_id": kw, "source": kw, "kind": kw,
                "number": {"type": "integer"}, "sub": {"type": "integer"}, "order": {"type": "long"},
                "terms": _ws(), "title_terms": _ws(), "path_terms": _ws(),
                "level": kw, "province": kw, "city": kw, "is_local": {"type": "boolean"},
                "status": kw, "valid_from": {"type": "integer"}, "valid_to": {"type": "integer"},
                "embed_key": kw,
                "vector": {"type": "dense_vector", "dims": dims, "index": True, "similarity": "cosine",
                           "index_options": {"type": vectors, "m": 16, "ef_construction": 100}},
                # law
                "names": kw, "title": kw, "aliases": kw, "region_province": kw, "region_city": kw,
                "has_gaps": {"type": "boolean"},
                # doc
                "seq": {"type": "long"}, "sha256": kw, "source_kind": kw, "canonical": {"type": "boolean"},
                "hashes": kw, "title_source": kw,
            },
        },
    }


def doc_id(source: str) -> str:
    return "doc:" + hashlib.sha1(source.encode("utf-8")).hexdigest()


def law_doc_id(law_id: str) -> str:
    return "law:" + law_id


META_ID = "meta:kb"


def doc_record(doc: ParsedDocument, size: int, seq: int) -> dict:
    """A parsed document as stored: the same fields the embedded store keeps, units in reading order."""
    skip = {"articles", "title", "source", "source_kind", "sha256", "version_date", "effective", "part", "status"}
    meta = {f.name: getattr(doc, f.name) for f in fields(doc) if f.name not in skip}
    meta["history"] = [asdict(ev) for ev in doc.history]
    units = []
    for i, (a, key) in enumerate(zip(doc.articles, unit_keys(doc.articles), strict=True)):
        units.append({
            "seq": i, "kind": a.kind, "key": key, "number_text": a.number_text, "number": a.number,
            "sub": a.sub, "path": list(a.path), "heading": a.heading, "text": a.text,
            "paragraphs": [{"text": p.text, "items": p.items} for p in a.paragraphs],
            "line_start": a.line_start, "line_end": a.line_end, "page_start": a.page_start,
            "page_end": a.page_end, "text_hash": text_hash(a.text),
        })
    return make_doc_record(source=doc.source, source_kind=doc.source_kind, sha256=doc.sha256, size=size,
                           title=doc.title, version_date=doc.version_date, effective=doc.effective,
                           part=doc.part, status=doc.status, meta=meta, units=units, seq=seq)


def make_doc_record(*, source: str, source_kind: str, sha256: str, size: int, title: str,
                    version_date: str | None, effective: str | None, part: str | None, status: str | None,
                    meta: dict, units: list[dict], seq: int, ingested_at: str | None = None) -> dict:
    cites = dict(cited_names(u["text"] for u in units))
    head = [u["text_hash"] for u in units if u["kind"] == KIND_ARTICLE and len(u["text"]) > 30][:8]
    return {
        "doc_type": "doc", "source": source, "source_kind": source_kind, "sha256": sha256, "size": size,
        "ingested_at": ingested_at or dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "title": title, "version_date": version_date, "effective": effective, "part": part, "status": status,
        "n_articles": sum(1 for u in units if u["kind"] == KIND_ARTICLE), "meta": meta, "units": units,
        "seq": seq, "n_units": len(units), "keys": sorted({u["key"] for u in units}),
        "title_source": (meta.get("extra") or {}).get("title_source"),
        "hashes": sorted({u["text_hash"] for u in units}), "head_hashes": head, "cites": cites,
        # set when the build resolves laws:
        "law_id": None, "version_id": None, "canonical": False, "indexed_sig": None, "article_ids": [],
    }


def article_record(unit: dict, doc: dict, article_id: str, ctx: dict, *, terms: str, title_terms: str,
                   path_terms: str, embed_key: str, vector: list[float] | None) -> dict:
    """A searchable unit with everything a hit and `show` print, and the fields filters need."""
    rec = {
        "doc_type": "article", "article_id": article_id, "law_id": ctx["law_id"],
        "version_id": ctx["version_id"], "kind": unit["kind"], "key": unit["key"],
        "number_text": unit["number_text"], "article_no": unit["number_text"], "number": unit["number"],
        "sub": unit["sub"], "path": unit["path"], "heading": unit["heading"], "text": unit["text"],
        "paragraphs": unit["paragraphs"], "line_start": unit["line_start"], "line_end": unit["line_end"],
        "page_start": unit["page_start"], "page_end": unit["page_end"], "text_hash": unit["text_hash"],
        "seq": unit["seq"], "doc_id": doc["seq"], "order": doc["seq"] * 1_000_000 + unit["seq"],
        "source": doc["source"], "source_kind": doc["source_kind"], "part": doc["part"],
        "law_title": ctx["law_title"], "level": ctx["level"], "region_province": ctx["province"],
        "region_city": ctx["city"], "province": ctx["province"], "city": ctx["city"],
        "region": "".join(x for x in (ctx["province"], ctx["city"]) if x) or None,
        "is_local": ctx["is_local"], "status": ctx["status"], "law_status": ctx["law_status"],
        "version_date": ctx["version_date"], "effective": ctx["effective"],
        "valid_from": ctx["valid_from"], "valid_to": ctx["valid_to"],
        "terms": terms, "title_terms": title_terms, "path_terms": path_terms, "embed_key": embed_key,
    }
    if vector is not None:
        rec["vector"] = vector
    return rec


ARTICLE_HIDDEN = ["terms", "title_terms", "path_terms", "vector", "doc_type", "order", "province", "city",
                  "valid_from", "valid_to", "embed_key"]


def article_view(src: dict) -> dict:
    """An article record as the KnowledgeBase contract returns it (the embedded store's keys)."""
    return {k: v for k, v in src.items() if k not in ARTICLE_HIDDEN}


def sig(value: Any) -> str:
    import json

    return hashlib.sha1(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")
                        ).hexdigest()[:16]
