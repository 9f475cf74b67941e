"""Loading an embedded knowledge base into Elasticsearch as one new generation: its documents as parsed,
its segmented terms (when segmented by the same dictionary) and its vectors, so nothing is segmented or
embedded again. It reads the embedded store only through that store's export methods."""

from __future__ import annotations

from typing import Any

from lawkb.core.segment import segmenter

from . import mapping as m
from .build import Build, Reuse


def load(kb: Any, source: Any, *, progress: bool = True) -> dict:
    """kb: the ElasticKB to load into; source: an EmbeddedKB (both duck-typed: kb.py imports this)."""
    build = Build(kb, fresh=True)
    try:
        build.reuse, kb.model_id = reuse_from_embedded(source)
        build.copy_docs(doc_records(source))
        build.commit(progress=progress)
    except BaseException:
        build.abandon()
        raise
    return kb.last_build


def reuse_from_embedded(source: Any) -> tuple[Reuse, str | None]:
    """Terms and vectors from an embedded KB, by embed key, and the model of its vectors."""
    terms = source.terms_by_embed_key(segmenter().signature)
    model_id = source.vector_model()

    def lookup(keys: list[str]) -> dict[str, tuple[str | None, list[float] | None]]:
        vecs = source.vectors_by_key(model_id, keys) if model_id else {}
        return {k: (terms.get(k), vecs.get(k)) for k in keys if k in terms or k in vecs}

    return lookup, model_id


def doc_records(source: Any):
    """The embedded KB's documents as Elasticsearch doc records."""
    for d, units in source.documents_as_parsed():
        yield m.make_doc_record(
            source=d["source"], source_kind=d["source_kind"], sha256=d["sha256"], size=d["size"], title=d["title"],
            version_date=d["version_date"], effective=d["effective"], part=d["part"], status=d["status"],
            meta=d["meta"], units=units, seq=d["doc_id"], ingested_at=d["ingested_at"])
