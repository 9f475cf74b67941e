"""The knowledge-base contract every backend implements, and the registry that picks one by locator.

A locator is a directory (the embedded SQLite store) or an http(s):// URL (Elasticsearch). Backends are
imported lazily so the embedded install never needs a server client.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

from lawkb.model import ParsedDocument


class KBError(Exception):
    """A knowledge-base problem the user can act on (wrong locator, missing KB, unknown law)."""

    status = 400


class NotFound(KBError):
    status = 404


class Batch(Protocol):
    """One atomic write: everything put or removed inside it becomes visible together, or not at all."""

    def sources(self) -> dict[str, str]:
        """Every ingested source with its content hash."""

    def put(self, doc: ParsedDocument, size: int) -> None:
        """Add or replace the document from doc.source."""

    def remove(self, source: str) -> None:
        """Take out the document from source."""


@runtime_checkable
class KnowledgeBase(Protocol):
    locator: str

    def batch(self) -> AbstractContextManager[Batch]: ...

    def stats(self) -> dict[str, Any]: ...

    def laws(self, *, level: str | None = None, region: str | None = None, status: str | None = None,
             q: str | None = None) -> list[dict]: ...

    def find_laws(self, name: str) -> list[dict]:
        """Laws whose title, short title or alias is name (《》 and 中华人民共和国 optional)."""

    def law(self, law_id: str) -> dict | None: ...

    def article(self, law_id: str, number: int, sub: int = 0, *, as_of: str | None = None) -> dict | None:
        """The article of the version in force (or in force on as_of), as a dict with law_title,
        article_no, text, paragraphs, path, status, level, region and provenance."""

    def article_by_id(self, article_id: str) -> dict | None: ...

    def articles_by_ids(self, ids: list[str]) -> dict[str, dict]:
        """The articles of ids that exist, keyed by id, fetched together."""

    def articles(self, version_id: str) -> list[dict]: ...

    def sources_matching(self, pattern: str) -> list[str]: ...

    def repeal_clauses(self) -> list[dict]:
        """Every repeal clause in the corpus (“《X》同时废止”), including those naming laws the KB does not
        hold: [{name, law_id, law_title, article_id, article_no, effective, text}] where law_id is the
        repealing law and effective the date its clause takes effect."""

    def close(self) -> None: ...


def is_url(locator: str) -> bool:
    return locator.startswith(("http://", "https://"))


def open_kb(locator: str, *, create: bool = False) -> KnowledgeBase:
    """Open the knowledge base a locator names."""
    if is_url(locator):
        from .elastic import ElasticKB

        return ElasticKB(locator, create=create)
    from .embedded import EmbeddedKB

    return EmbeddedKB(locator, create=create)


def open_searcher(kb: KnowledgeBase, *, use_model: bool = True):
    """The Searcher for a knowledge base's backend."""
    if is_url(kb.locator):
        from .es_search import ElasticSearcher

        return ElasticSearcher(kb, use_model=use_model)
    from .engine import EmbeddedSearcher

    return EmbeddedSearcher(kb, use_model=use_model)
