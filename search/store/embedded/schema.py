"""The embedded store's SQLite schema: documents as parsed, their units (articles with provenance), the
laws and versions resolution derives from them, vectors by model and text, and law names."""

from __future__ import annotations

import json
from typing import Any

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


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

