"""The search contract, independent of any backend: a query with filters in, ranked hits out.

Every backend (embedded SQLite, Elasticsearch) implements `Searcher`; the CLI, the site and the legal
tools only see these types.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol

from lawkb.core.errors import QueryError

MAX_QUERY_CHARS = 2000

__all__ = ["Filters", "Hit", "MAX_QUERY_CHARS", "Query", "QueryError", "SearchResult", "Searcher", "Why"]




@dataclass(frozen=True)
class Filters:
    level: tuple[str, ...] = ()      # empty: the default set (national law; local law with a region)
    region: str | None = None        # province or city name: 北京, 杭州, 浙江省
    status: tuple[str, ...] = ()     # empty: in force (or in force on as_of)
    law: str | None = None           # a law's title, short title or alias
    as_of: str | None = None         # YYYY-MM-DD: the versions in force on that date


@dataclass(frozen=True)
class Query:
    text: str
    k: int = 10
    offset: int = 0
    filters: Filters = field(default_factory=Filters)


@dataclass
class Why:
    matched_terms: list[str]
    semantic_similarity: float | None
    retrievers: dict[str, int]       # retriever -> rank where it found the article
    citation: bool = False           # the query cited this article


@dataclass
class Hit:
    article_id: str
    law_id: str
    law_title: str
    article_no: str | None
    text: str
    score: float
    level: str | None
    status: str
    region: str | None
    path: list[str]
    version_date: str | None
    effective: str | None
    snippet_html: str                # escaped text with <mark> around matched terms: safe to insert
    why: Why
    source: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SearchResult:
    query: str
    mode: str                        # 'hybrid' or 'lexical'
    hits: list[Hit]
    total: int                       # candidates that passed the filters (at most the retrievers' depth)
    notes: list[str] = field(default_factory=list)  # e.g. why the search is lexical only
    took_ms: float = 0.0

    def to_dict(self) -> dict:
        return {"query": self.query, "mode": self.mode, "total": self.total, "notes": self.notes,
                "took_ms": round(self.took_ms, 1), "hits": [h.to_dict() for h in self.hits]}


class Searcher(Protocol):
    def search(self, query: Query) -> SearchResult: ...
