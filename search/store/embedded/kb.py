"""The embedded knowledge base: one directory holding one SQLite database (kb.sqlite).

Writes happen in a single transaction per batch (WAL journal), so a crash or kill in the middle of an
ingest leaves the previous state exactly as it was. Documents are stored as parsed; laws and versions are
derived from them by `lawkb.core.versions` at the end of every batch (write.py).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lawkb.core.errors import KBError
from lawkb.core.model import KIND_ARTICLE, LOCAL_LEVELS, law_key, split_parts_in_order
from lawkb.core.regions import normalize_region
from lawkb.core.versions import version_in_force

from . import vectors
from .indexer import build_index, update_terms
from .retrieve import EmbeddedRetriever
from .schema import DB_NAME, SCHEMA, SCHEMA_VERSION
from .write import SqliteBatch, resolve_laws


class EmbeddedKB:
    """A knowledge base in a directory. Safe for many readers and one writer at a time."""

    backend = "embedded"
    embeds_in_place = True   # vectors are committed in chunks that searches pick up as they come

    def __init__(self, locator: str | Path, *, create: bool = False) -> None:
        self.path = Path(locator).expanduser()
        self.locator = str(self.path)
        db = self.path / DB_NAME
        if not db.exists():
            if not create:
                raise KBError(f"no knowledge base at {self.path} (run `lawkb ingest ... --kb {self.path}` first)")
            self.path.mkdir(parents=True, exist_ok=True)
        elif not db.is_file():
            raise KBError(f"{db} is not a file")
        self._db = db
        self.encoder_provider = None  # not needed: vectors are computed by `embed`, not while ingesting
        # One connection per thread: a connection serialises its statements, and with the site's request
        # threads sharing one, article lookups ran at a sixth of the single-thread rate (2.5k against
        # 14k a second with 8 threads). WAL lets the readers go on while one writer commits.
        self._local = threading.local()
        self._conns: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._conns_lock = threading.Lock()
        self._connect()
        self._ensure_schema()

    def _ensure_schema(self) -> None:
        row = None
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.OperationalError:
            pass
        if row is not None:
            if int(row[0]) != SCHEMA_VERSION:
                raise KBError(f"knowledge base schema {row[0]} is not {SCHEMA_VERSION}: rebuild it")
            return
        self.conn.executescript(
            f"BEGIN IMMEDIATE; {SCHEMA}"
            f"INSERT OR REPLACE INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}'); COMMIT;"
        )

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._db, timeout=60, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise KBError(f"{self._db} is not a lawkb database: {exc}") from None
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        self._local.conn = conn
        with self._conns_lock:
            # A server that starts a thread per request would otherwise leave one open connection per
            # request behind: close those of threads that have ended.
            ended = [c for t, c in self._conns if not t.is_alive()]
            self._conns = [(t, c) for t, c in self._conns if t.is_alive()]
            self._conns.append((threading.current_thread(), conn))
        for c in ended:
            c.close()
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection to the KB (opened on first use)."""
        conn = getattr(self._local, "conn", None)
        return conn if conn is not None else self._connect()

    def close(self) -> None:
        with self._conns_lock:
            conns, self._conns = self._conns, []
        for _, conn in conns:
            conn.close()
        self._local = threading.local()

    # ---- writing -------------------------------------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[SqliteBatch]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            b = SqliteBatch(self.conn)
            yield b
            if b.dirty:
                resolve_laws(self.conn)
                # Any change makes saved search snapshots stale.
                self.conn.execute(
                    "INSERT INTO meta VALUES ('generation', '1') ON CONFLICT(key) DO UPDATE SET "
                    "value = CAST(value AS INTEGER) + 1")
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise


    def stats(self) -> dict[str, Any]:
        c = self.conn
        one = lambda sql: c.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "locator": self.locator,
            "backend": "embedded",
            "documents": one("SELECT count(*) FROM documents"),
            "laws": one("SELECT count(*) FROM laws"),
            "versions": one("SELECT count(*) FROM versions"),
            "articles": one("SELECT count(*) FROM units WHERE article_id IS NOT NULL AND kind='article'"),
            "units": one("SELECT count(*) FROM units WHERE article_id IS NOT NULL"),
            "duplicate_documents": one("SELECT count(*) FROM documents WHERE canonical=0"),
            "by_level": dict(c.execute("SELECT coalesce(level,'未知'), count(*) FROM laws GROUP BY 1 ORDER BY 2 DESC")
                             .fetchall()),
            "by_status": dict(c.execute("SELECT status, count(*) FROM laws GROUP BY 1 ORDER BY 2 DESC").fetchall()),
            "by_region": dict(c.execute("SELECT region_province, count(*) FROM laws WHERE region_province IS NOT NULL"
                                        " GROUP BY 1 ORDER BY 2 DESC").fetchall()),
            "by_source": dict(c.execute("SELECT source_kind, count(*) FROM documents GROUP BY 1 ORDER BY 2 DESC")
                              .fetchall()),
            "laws_with_gaps": one("SELECT count(DISTINCT law_id) FROM versions WHERE gaps != '[]'"),
        }

    def _law_dict(self, r: sqlite3.Row) -> dict:
        d = dict(r)
        d["aliases"] = json.loads(d["aliases"])
        d["law_title"] = d["title"]
        return d

    def laws(self, *, level: str | None = None, region: str | None = None, status: str | None = None,
             q: str | None = None) -> list[dict]:
        sql, args = "SELECT * FROM laws WHERE 1=1", []
        if level:
            sql += " AND level=?"
            args.append(level)
        if status:
            sql += " AND status=?"
            args.append(status)
        if region:
            reg = normalize_region(region)
            if reg is None:
                raise KBError(f"无法识别的地区“{region}”：请填写省或市，例如 北京、杭州")
            sql += " AND region_province=?"
            args.append(reg.province)
            if reg.city:
                sql += " AND (region_city=? OR region_city IS NULL)"
                args.append(reg.city)
        if q:
            sql += " AND (title LIKE ? OR aliases LIKE ?)"
            args += [f"%{q}%", f"%{q}%"]
        sql += " ORDER BY title"
        return [self._law_dict(r) for r in self.conn.execute(sql, args)]

    def find_laws(self, name: str) -> list[dict]:
        key = law_key(name)
        rows = self.conn.execute(
            "SELECT l.* FROM law_names n JOIN laws l USING (law_id) WHERE n.name=? ORDER BY l.title", (key,)
        ).fetchall()
        return [self._law_dict(r) for r in rows]

    def law(self, law_id: str) -> dict | None:
        r = self.conn.execute("SELECT * FROM laws WHERE law_id=?", (law_id,)).fetchone()
        if r is None:
            return None
        d = self._law_dict(r)
        d["versions"] = [
            {**dict(v), "doc_ids": json.loads(v["doc_ids"]), "duplicate_doc_ids": json.loads(v["duplicate_doc_ids"]),
             "history": json.loads(v["history"]), "gaps": json.loads(v["gaps"]),
             "sources": [s[0] for s in self.conn.execute(
                 "SELECT source FROM documents WHERE version_id=? ORDER BY canonical DESC, doc_id", (v["version_id"],))]}
            for v in self.conn.execute("SELECT * FROM versions WHERE law_id=? ORDER BY seq", (law_id,))
        ]
        return d

    _ARTICLE_SQL = """
        SELECT u.*, l.title AS law_title, l.level, l.region_province, l.region_city, l.status AS law_status,
               v.status AS version_status, v.version_date, v.effective, d.source, d.source_kind
        FROM units u JOIN versions v USING (version_id) JOIN laws l ON l.law_id = u.law_id
        JOIN documents d ON d.doc_id = u.doc_id
    """

    def _article_dict(self, r: sqlite3.Row) -> dict:
        d = dict(r)
        d["path"] = json.loads(d["path"])
        d["paragraphs"] = json.loads(d["paragraphs"])
        d["article_no"] = d["number_text"]
        d["status"] = d.pop("version_status")
        d["region"] = "".join(x for x in (d["region_province"], d["region_city"]) if x) or None
        d["is_local"] = d["level"] in LOCAL_LEVELS
        return d

    def version_for(self, law_id: str, as_of: str | None = None) -> dict | None:
        """The version in force on as_of (the law's current version when as_of is None)."""
        if as_of is None:
            r = self.conn.execute("SELECT current_version FROM laws WHERE law_id=?", (law_id,)).fetchone()
            if r is None or r[0] is None:
                return None
            v = self.conn.execute("SELECT * FROM versions WHERE version_id=?", (r[0],)).fetchone()
            return dict(v) if v else None
        rows = self.conn.execute("SELECT * FROM versions WHERE law_id=? ORDER BY seq", (law_id,)).fetchall()
        chosen = version_in_force([dict(r) for r in rows], as_of)
        return chosen

    def article(self, law_id: str, number: int, sub: int = 0, *, as_of: str | None = None) -> dict | None:
        version = self.version_for(law_id, as_of)
        if version is None:
            return None
        r = self.conn.execute(
            self._ARTICLE_SQL + " WHERE u.version_id=? AND u.kind=? AND u.number=? AND u.sub=? ORDER BY u.unit_id",
            (version["version_id"], KIND_ARTICLE, number, sub),
        ).fetchone()
        return self._article_dict(r) if r else None

    def article_by_id(self, article_id: str) -> dict | None:
        r = self.conn.execute(self._ARTICLE_SQL + " WHERE u.article_id=?", (article_id,)).fetchone()
        return self._article_dict(r) if r else None

    def articles_by_ids(self, ids: list[str]) -> dict[str, dict]:
        """The articles of ids that exist, by id, in one query (a result page costs one round trip)."""
        out: dict[str, dict] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), 500):  # under SQLite's host-parameter limit
            part = unique[start:start + 500]
            rows = self.conn.execute(
                self._ARTICLE_SQL + f" WHERE u.article_id IN ({','.join('?' * len(part))})", part).fetchall()
            for r in rows:
                out[r["article_id"]] = self._article_dict(r)
        return out

    def unit_terms(self, unit_ids: list[int]) -> dict[int, list[str]]:
        """The segmented article text of each unit, as indexed (what pseudo-relevance feedback reads)."""
        out: dict[int, list[str]] = {}
        for start in range(0, len(unit_ids), 500):
            part = [int(u) for u in unit_ids[start:start + 500]]
            for unit_id, terms in self.conn.execute(
                    f"SELECT unit_id, terms FROM units WHERE unit_id IN ({','.join('?' * len(part))})", part):
                out[unit_id] = (terms or "").split()
        return out

    def articles(self, version_id: str) -> list[dict]:
        rows = self.conn.execute(
            self._ARTICLE_SQL + " WHERE u.version_id=? ORDER BY d.part IS NOT NULL, u.doc_id, u.seq", (version_id,)
        ).fetchall()
        return split_parts_in_order([self._article_dict(r) for r in rows])

    def sources_matching(self, pattern: str) -> list[str]:
        rows = self.conn.execute(
            "SELECT source FROM documents WHERE source=? OR source LIKE ? OR title=? OR law_id IN "
            "(SELECT law_id FROM law_names WHERE name=?) ORDER BY source",
            (pattern, pattern.rstrip("/") + "/%", pattern, law_key(pattern)),
        ).fetchall()
        return [r[0] for r in rows]

    def repeal_clauses(self) -> list[dict]:
        out = []
        rows = self.conn.execute(
            "SELECT d.meta, d.law_id, d.version_id, v.effective, v.version_date, l.title FROM documents d "
            "JOIN versions v USING (version_id) JOIN laws l ON l.law_id = d.law_id "
            "WHERE d.canonical = 1 AND d.meta LIKE '%\"repeals\":[{%' ORDER BY d.doc_id")
        for meta, law_id, version_id, effective, version_date, title in rows:
            for clause in json.loads(meta).get("extra", {}).get("repeals", []):
                key = clause.get("article", "")
                no = self.conn.execute("SELECT number_text FROM units WHERE article_id=?",
                                       (f"{version_id}#{key}",)).fetchone()
                for name in clause["titles"]:
                    out.append({"name": name, "law_id": law_id, "law_title": title,
                                "article_id": f"{version_id}#{key}", "article_no": no[0] if no else None,
                                "effective": effective or version_date, "text": clause.get("text", "")})
        return out

    # ---- capabilities --------------------------------------------------------------------------

    def index(self, *, workers: int | None = None, rebuild: bool = False) -> dict:
        """Segment the articles that have no terms yet (all with rebuild), then save the snapshot."""
        if rebuild:
            update_terms(self.conn, workers=workers, rebuild=True)
        return build_index(self, workers=workers)

    def missing_vectors(self, model_id: str) -> int:
        return len(vectors.missing(self.conn, model_id))

    def embed(self, encoder, *, batch_size: int = 32, workers: int | None = None,
              progress: Callable[[int, int], None] | None = None, commit_every: int = 2048,
              scope_done: Callable[[str, int], None] | None = None) -> int:
        """National law in force first (vectors.SCOPES), so searches with no region can go hybrid
        before the local documents are done."""
        return vectors.compute(self.conn, encoder, batch_size=batch_size, workers=workers, progress=progress,
                               commit_every=commit_every, scope_done=scope_done)

    def retriever(self, **options) -> EmbeddedRetriever:
        """options: the dense scan's first pass (EmbeddedRetriever's coarse_min_rows, coarse_candidates)."""
        return EmbeddedRetriever(self, **options)

    # ---- export (what another store loads from this one) -----------------------------------------

    def documents_as_parsed(self) -> Iterator[tuple[dict, list[dict]]]:
        """Every document's stored fields (meta decoded) and its units in reading order."""
        conn = self.conn
        for d in conn.execute("SELECT * FROM documents ORDER BY doc_id").fetchall():
            doc = dict(d)
            doc["meta"] = json.loads(doc["meta"])
            units = [{
                "seq": u["seq"], "kind": u["kind"], "key": u["key"], "number_text": u["number_text"],
                "number": u["number"], "sub": u["sub"], "path": json.loads(u["path"]), "heading": u["heading"],
                "text": u["text"], "paragraphs": json.loads(u["paragraphs"]), "line_start": u["line_start"],
                "line_end": u["line_end"], "page_start": u["page_start"], "page_end": u["page_end"],
                "text_hash": u["text_hash"]}
                for u in conn.execute("SELECT * FROM units WHERE doc_id=? ORDER BY seq", (d["doc_id"],))]
            yield doc, units

    def terms_by_embed_key(self, segmenter_signature: str) -> dict[str, str | None]:
        """Each searchable unit's segmented terms by embed key (vectors.key_of its embedded text); the
        terms only when they were segmented with the given segmenter, else None."""
        row = self.conn.execute("SELECT value FROM meta WHERE key='segmenter'").fetchone()
        same = row is not None and row[0] == segmenter_signature
        terms_of = dict(self.conn.execute(
            "SELECT unit_id, terms FROM units WHERE article_id IS NOT NULL")) if same else {}
        out: dict[str, str | None] = {}
        for unit_id, key, _ in vectors.embed_inputs(self.conn):
            out.setdefault(key, terms_of.get(unit_id))
        return out

    def vector_model(self) -> str | None:
        """The model most of the stored vectors belong to."""
        row = self.conn.execute("SELECT model, count(*) FROM vectors GROUP BY model ORDER BY 2 DESC").fetchone()
        return row[0] if row else None

    def vectors_by_key(self, model_id: str, keys: list[str]) -> dict[str, list[float]]:
        import numpy as np

        out = {}
        for i in range(0, len(keys), 900):
            chunk = keys[i:i + 900]
            q = f"SELECT key, vec FROM vectors WHERE model=? AND key IN ({','.join('?' * len(chunk))})"
            for k, blob in self.conn.execute(q, [model_id, *chunk]):
                out[k] = np.frombuffer(blob, dtype=np.float32).tolist()
        return out
