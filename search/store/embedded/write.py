"""Writing the embedded store: one batch of documents put or removed, then laws and versions derived
again from every document (lawkb.core.versions), all in the caller's transaction."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import asdict, fields

from lawkb.core import settings
from lawkb.core.model import KIND_ARTICLE, ParsedDocument, law_key, text_hash, unit_keys
from lawkb.core.versions import DocSummary, article_gaps, article_ids, identify_untitled, resolve

from .schema import dumps as _j


class SqliteBatch:
    """The embedded store's Batch: writes go into the transaction EmbeddedKB.batch holds."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.dirty = False

    def sources(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT source, sha256 FROM documents"))

    def remove(self, source: str) -> None:
        self.conn.execute("DELETE FROM documents WHERE source=?", (source,))
        self.dirty = True

    def put(self, doc: ParsedDocument, size: int) -> None:
        self.remove(doc.source)
        skip = {"articles", "title", "source", "source_kind", "sha256", "version_date", "effective", "part",
                "status"}
        meta = {f.name: getattr(doc, f.name) for f in fields(doc) if f.name not in skip}
        meta["history"] = [asdict(ev) for ev in doc.history]
        n_articles = sum(1 for a in doc.articles if a.kind == KIND_ARTICLE)
        cur = self.conn.execute(
            "INSERT INTO documents (source, source_kind, sha256, size, ingested_at, title, version_date, effective,"
            " part, status, n_articles, meta) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (doc.source, doc.source_kind, doc.sha256, size, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
             doc.title, doc.version_date, doc.effective, doc.part, doc.status, n_articles, _j(meta)),
        )
        doc_id = cur.lastrowid
        rows = []
        for seq, (a, key) in enumerate(zip(doc.articles, unit_keys(doc.articles), strict=True)):
            rows.append((doc_id, seq, a.kind, key, a.number_text, a.number, a.sub, _j(a.path), a.heading, a.text,
                         _j([{"text": p.text, "items": p.items} for p in a.paragraphs]), a.line_start, a.line_end, a.page_start,
                         a.page_end, text_hash(a.text), None))
        self.conn.executemany(
            "INSERT INTO units (doc_id, seq, kind, key, number_text, number, sub, path, heading, text, paragraphs,"
            " line_start, line_end, page_start, page_end, text_hash, terms)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        self.dirty = True


def resolve_laws(conn: sqlite3.Connection) -> None:
    """Derive laws, versions and article ids from every stored document; only documents whose version
    or canonical choice changed get new article ids."""
    keys: dict[int, set[str]] = {}
    for doc_id, key in conn.execute("SELECT doc_id, key FROM units"):
        keys.setdefault(doc_id, set()).add(key)
    summaries = []
    for r in conn.execute("SELECT * FROM documents"):
        meta = json.loads(r["meta"])
        summaries.append(DocSummary(
            doc_id=r["doc_id"], source=r["source"], source_kind=r["source_kind"], title=r["title"],
            version_date=r["version_date"], effective=r["effective"], n_articles=r["n_articles"],
            keys=frozenset(keys.get(r["doc_id"], ())), part=r["part"], status=r["status"],
            meta={**{k: meta.get(k) for k in ("level", "issuing_body", "region_province", "region_city",
                                              "category", "aliases", "adopted", "promulgated")},
                  "title_source": meta.get("extra", {}).get("title_source")},
            repeals=meta.get("extra", {}).get("repeals", []),
        ))
    identify_untitled(summaries, lambda s: _owners(conn, s))
    laws = resolve(summaries, settings.today())
    old = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT doc_id, version_id, canonical FROM documents")}
    conn.execute("DELETE FROM laws")
    conn.execute("DELETE FROM versions")
    conn.execute("DELETE FROM law_names")
    assignment: dict[int, tuple[str, str, int]] = {}
    docs_meta = {s.doc_id: s for s in summaries}
    for law in laws:
        m = law.meta
        conn.execute(
            "INSERT INTO laws VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (law.law_id, law.key, law.title, law.short_title, _j(law.aliases), m.get("level"),
             m.get("issuing_body"), m.get("region_province"), m.get("region_city"), m.get("category"),
             law.status, law.current_version, law.replaced_by, law.repealed_on, law.repeal_source,
             len(law.versions)),
        )
        names = {law_key(law.title), law_key(law.short_title), *(law_key(a) for a in law.aliases)}
        for v in law.versions:
            names.add(law_key(v.title))
        conn.executemany("INSERT OR IGNORE INTO law_names VALUES (?, ?)", [(n, law.law_id) for n in names if n])
        for seq, v in enumerate(law.versions):
            gaps = article_gaps(k for d in v.doc_ids for k in docs_meta[d].keys)
            history = []
            for d in v.doc_ids:
                history = json.loads(conn.execute("SELECT meta FROM documents WHERE doc_id=?", (d,))
                                     .fetchone()[0]).get("history", [])
                if history:
                    break
            conn.execute(
                "INSERT INTO versions VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (v.version_id, law.law_id, seq, v.version_date, v.effective, v.status, v.title,
                 _j(v.doc_ids), _j(v.duplicate_doc_ids), _j(history), _j(gaps)),
            )
            for d in v.doc_ids:
                assignment[d] = (law.law_id, v.version_id, 1)
            for d in v.duplicate_doc_ids:
                assignment[d] = (law.law_id, v.version_id, 0)
    changed = [d for d, (law_id, vid, canon) in assignment.items() if old.get(d) != (vid, canon)]
    if not changed:
        return
    for d in changed:
        conn.execute("UPDATE units SET article_id=NULL, version_id=NULL, law_id=NULL WHERE doc_id=?", (d,))
    for d in changed:
        law_id, vid, canon = assignment[d]
        conn.execute("UPDATE documents SET law_id=?, version_id=?, canonical=? WHERE doc_id=?",
                     (law_id, vid, canon, d))
        if not canon:
            continue
        rows = conn.execute("SELECT unit_id, key FROM units WHERE doc_id=? ORDER BY seq", (d,)).fetchall()
        taken = {r[0] for r in conn.execute("SELECT article_id FROM units WHERE version_id=?", (vid,))}
        ids = article_ids(vid, [key for _, key in rows], taken)
        updates = [(aid, vid, law_id, unit_id) for aid, (unit_id, _) in zip(ids, rows, strict=True)]
        conn.executemany("UPDATE units SET article_id=?, version_id=?, law_id=? WHERE unit_id=?", updates)


def _owners(conn: sqlite3.Connection, s: DocSummary) -> tuple[list[str], dict[str, set[int]]]:
    """The text hashes of s's first long articles, and the documents holding each."""
    hashes = [r[0] for r in conn.execute(
        "SELECT text_hash FROM units WHERE doc_id=? AND kind='article' AND length(text) > 30 "
        "ORDER BY seq LIMIT 8", (s.doc_id,))]
    return hashes, {h: {d for (d,) in conn.execute(
        "SELECT DISTINCT doc_id FROM units WHERE text_hash=? AND doc_id != ?", (h, s.doc_id))} for h in hashes}
