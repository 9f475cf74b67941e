"""The embedded knowledge base: one directory holding one SQLite database (kb.sqlite).

Writes happen in a single transaction per batch (WAL journal), so a crash or kill in the middle of an
ingest leaves the previous state exactly as it was. Documents are stored as parsed; laws and versions are
derived from them by `ingest.resolve` at the end of every batch.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from lawkb import settings
from lawkb.ingest.resolve import DocSummary, identify_by_articles, resolve
from lawkb.model import (
    KIND_ARTICLE,
    LOCAL_LEVELS,
    ParsedDocument,
    law_key,
    split_parts_in_order,
    text_hash,
    unit_keys,
)
from lawkb.regions import normalize_region

from .backend import KBError

SCHEMA_VERSION = 3
DB_NAME = "kb.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id INTEGER PRIMARY KEY,
    source TEXT NOT NULL UNIQUE,
    source_kind TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    ingested_at TEXT NOT NULL,
    title TEXT NOT NULL,
    version_date TEXT,
    effective TEXT,
    part TEXT,
    status TEXT,
    n_articles INTEGER NOT NULL,
    meta TEXT NOT NULL,               -- JSON: every other field of the parsed document
    law_id TEXT,                      -- set by resolve
    version_id TEXT,
    canonical INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS documents_version ON documents(version_id);
CREATE TABLE IF NOT EXISTS units (
    unit_id INTEGER PRIMARY KEY,
    doc_id INTEGER NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    number_text TEXT,
    number INTEGER,
    sub INTEGER NOT NULL,
    path TEXT NOT NULL,               -- JSON list: 编 / 分编 / 章 / 节
    heading TEXT,
    text TEXT NOT NULL,
    paragraphs TEXT NOT NULL,         -- JSON list of {text, items}
    line_start INTEGER, line_end INTEGER, page_start INTEGER, page_end INTEGER,
    text_hash TEXT NOT NULL,          -- of the whitespace- and punctuation-free text: finds copies
    terms TEXT,                       -- segmented for lexical search (NULL until `lawkb index` runs)
    article_id TEXT UNIQUE,           -- set for units of canonical documents only
    version_id TEXT,
    law_id TEXT
);
CREATE INDEX IF NOT EXISTS units_doc ON units(doc_id);
CREATE INDEX IF NOT EXISTS units_version ON units(version_id, number, sub);
CREATE INDEX IF NOT EXISTS units_text ON units(text_hash);
CREATE TABLE IF NOT EXISTS laws (
    law_id TEXT PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    short_title TEXT NOT NULL,
    aliases TEXT NOT NULL,
    level TEXT,
    issuing_body TEXT,
    region_province TEXT,
    region_city TEXT,
    category TEXT,
    status TEXT NOT NULL,
    current_version TEXT,
    replaced_by TEXT,
    repealed_on TEXT,
    repeal_source TEXT,
    n_versions INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
    version_id TEXT PRIMARY KEY,
    law_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    version_date TEXT,
    effective TEXT,
    status TEXT NOT NULL,
    title TEXT NOT NULL,
    doc_ids TEXT NOT NULL,
    duplicate_doc_ids TEXT NOT NULL,
    history TEXT NOT NULL,
    gaps TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS versions_law ON versions(law_id, seq);
CREATE TABLE IF NOT EXISTS vectors (
    model TEXT NOT NULL, key TEXT NOT NULL, vec BLOB NOT NULL, PRIMARY KEY (model, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS law_names (name TEXT NOT NULL, law_id TEXT NOT NULL, PRIMARY KEY (name, law_id));
"""


def _j(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class EmbeddedKB:
    """A knowledge base in a directory. Safe for many readers and one writer at a time."""

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
    def batch(self) -> Iterator[_Batch]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            b = _Batch(self.conn)
            yield b
            if b.dirty:
                self._resolve()
                # Any change makes saved search snapshots stale.
                self.conn.execute(
                    "INSERT INTO meta VALUES ('generation', '1') ON CONFLICT(key) DO UPDATE SET "
                    "value = CAST(value AS INTEGER) + 1")
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def _resolve(self) -> None:
        conn = self.conn
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
        self._identify_untitled(summaries)
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
                keys_v: set[int] = set()
                for d in v.doc_ids:
                    keys_v |= {int(k) for k in docs_meta[d].keys if k.isdigit()}
                gaps = [n for n in range(1, max(keys_v) + 1) if n not in keys_v] if keys_v else []
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
            updates = []
            for unit_id, key in rows:
                aid, n = f"{vid}#{key}", 2
                while aid in taken:  # parts of one version that repeat a key (rare): keep both
                    aid, n = f"{vid}#{key}~{n}", n + 1
                taken.add(aid)
                updates.append((aid, vid, law_id, unit_id))
            conn.executemany("UPDATE units SET article_id=?, version_id=?, law_id=? WHERE unit_id=?", updates)

    def _identify_untitled(self, summaries: list[DocSummary]) -> None:
        """A document whose text has no title line (named only by its file name or metadata, which can
        be wrong) takes the title of the law whose articles it reproduces, when the KB holds that law."""
        weak = [s for s in summaries if s.meta.get("title_source") not in (None, "body")]
        if not weak:
            return
        titled = {s.doc_id: s.title for s in summaries if s.meta.get("title_source") in (None, "body")}
        for s in weak:
            hashes = [r[0] for r in self.conn.execute(
                "SELECT text_hash FROM units WHERE doc_id=? AND kind='article' AND length(text) > 30 "
                "ORDER BY seq LIMIT 8", (s.doc_id,))]
            identify_by_articles(s, [
                {titled[d] for (d,) in self.conn.execute(
                    "SELECT DISTINCT doc_id FROM units WHERE text_hash=? AND doc_id != ?", (h, s.doc_id))
                 if d in titled}
                for h in hashes])

    # ---- reading -------------------------------------------------------------------------------

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
                raise KBError(f"unknown region: {region}")
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
        chosen = None
        for v in rows:
            start = v["effective"] or v["version_date"]
            if start is None or start <= as_of:
                chosen = v
        return dict(chosen) if chosen else None

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


class _Batch:
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
