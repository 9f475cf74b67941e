"""Where knowledge bases live: the contract (protocol.py), the embedded SQLite store (embedded/) and the
Elasticsearch store (elastic/). `open_store` picks one by locator; backends are imported lazily so the
embedded install never needs a server client."""

from __future__ import annotations

from .protocol import KnowledgeBase


def is_url(locator: str) -> bool:
    return locator.startswith(("http://", "https://"))


def open_store(locator: str, *, create: bool = False) -> KnowledgeBase:
    """The knowledge base a locator names: a directory (embedded) or an http(s):// URL (Elasticsearch)."""
    if is_url(locator):
        from .elastic.kb import ElasticKB

        return ElasticKB(locator, create=create)
    from .embedded.kb import EmbeddedKB

    return EmbeddedKB(locator, create=create)
