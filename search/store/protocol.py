"""The knowledge-base contract every store implements, with its capabilities, and what a store's
retrievers give the ranking layer.

A store holds documents, laws, versions and articles and answers reads about them; for search it
offers two retrievers (lexical and dense) over the articles that pass a query's filters. How those
lists are fused, expanded and turned into hits is written once, above the stores (search/rank/).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from lawkb.core.model import ParsedDocument
from lawkb.core.regions import Region


class Batch(Protocol):
    """One atomic write: everything put or removed inside it becomes visible together, or not at all."""

    def sources(self) -> dict[str, str]:
        """Every ingested source with its content hash."""

    def put(self, doc: ParsedDocument, size: int) -> None:
        """Add or replace the document from doc.source."""

    def remove(self, source: str) -> None:
        """Take out the document from source."""


class PassageEncoder(Protocol):
    """What a store needs of an embedding model to compute article vectors (search/encode/ has them)."""

    model_id: str
    dim: int

    def encode_passages(self, texts: list[str], batch_size: int = 32, progress=None) -> np.ndarray: ...


@dataclass(frozen=True)
class ResolvedFilters:
    """A query's filters, checked and looked up once by the ranking layer: every store applies these
    inside both retrievers, never after them."""

    levels: tuple[str, ...] = ()       # empty: every level but 案例
    region: Region | None = None       # its local documents rank with national law
    local_levels: bool = False         # the levels asked for include local ones (so local law is in)
    statuses: tuple[str, ...] = ()     # empty: in force (or in force on as_of)
    law_ids: frozenset[str] | None = None
    as_of: str | None = None


class QueryRetrieval(Protocol):
    """One query's retrievers over the articles that pass its filters. Keys are whatever the store
    ranks by (row numbers, article ids); they only need to be hashable and comparable for equality."""

    def dense_state(self, model_id: str) -> tuple[bool, list[str]]:
        """Whether vectors of model_id can be searched, and notes for the reader (missing vectors)."""

    def lexical(self, terms: dict[str, float], depth: int, *, added: dict[str, float] | None = None,
                ) -> list[Hashable]:
        """The depth best keys for the weighted terms, and with added, for the terms plus those (what
        feedback asks for after the first fusion)."""

    def retrieve(self, terms: dict[str, float], qv: np.ndarray | None, depth: int,
                 ) -> tuple[list[Hashable], list[Hashable]]:
        """Both lists at once (a store may run them in one round trip): the lexical one for the terms
        (empty without terms) and the dense one for the query vector (empty without one)."""

    def popularity(self, keys: list[Hashable]) -> np.ndarray | None:
        """The law-popularity prior of each key's law in [0, 1], or None where the store has none."""

    def feedback_words(self, keys: list[Hashable]) -> tuple[list[list[str]], Callable[[str], float | None]]:
        """The indexed words of each key's article, in order, and the idf of a word in this store."""

    def article_id(self, key: Hashable) -> str: ...

    def page(self, entries: list[tuple[str, Hashable | None]], qv: np.ndarray | None,
             ) -> dict[str, tuple[dict, float | None]]:
        """For (article_id, key or None) of a result page: each existing article's record and, with a
        query vector, its similarity to the question."""


@runtime_checkable
class KnowledgeBase(Protocol):
    locator: str
    encoder_provider: Callable[[], PassageEncoder | None] | None  # the model a build may embed with
    backend: str                  # 'embedded' or 'elasticsearch'
    embeds_in_place: bool         # `embed` adds vectors that searches see as they come (else: a rebuild)

    def batch(self) -> AbstractContextManager[Batch]: ...

    def stats(self) -> dict[str, Any]: ...

    def laws(self, *, level: str | None = None, region: str | None = None, status: str | None = None,
             q: str | None = None) -> list[dict]: ...

    def find_laws(self, name: str) -> list[dict]:
        """Laws whose title, short title or alias is name (《》 and 中华人民共和国 optional)."""

    def law(self, law_id: str) -> dict | None: ...

    def version_for(self, law_id: str, as_of: str | None = None) -> dict | None:
        """The version in force on as_of (the law's current version when as_of is None)."""

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

    def index(self, *, workers: int | None = None, rebuild: bool = False) -> dict:
        """Bring the lexical index up to date (rebuild: segment everything again); a dict of what was
        done, with a `note` where the store had nothing to do."""

    def missing_vectors(self, model_id: str) -> int:
        """Articles that have no vector of model_id."""

    def embed(self, encoder: PassageEncoder, *, batch_size: int = 32, workers: int | None = None,
              progress: Callable[[int, int], None] | None = None, commit_every: int = 2048,
              scope_done: Callable[[str, int], None] | None = None) -> int:
        """Compute the missing vectors with encoder; returns how many were computed. A store that embeds
        in place does national law in force first and calls scope_done(scope, n) after each scope."""

    def retriever(self, **options) -> Retriever:
        """The store's search side; options are the store's own tuning of its retrievers."""

    def close(self) -> None: ...


class Retriever(Protocol):
    """A store's search side, held by a searcher for its lifetime."""

    def prepare(self, model_id: str | None) -> None:
        """Load what searches read (an in-memory snapshot, the live generation) ahead of the first one."""

    def for_query(self, filters: ResolvedFilters, model_id: str | None) -> QueryRetrieval: ...

