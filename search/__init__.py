"""Knowledge bases and search, in layers that import downwards only: store/ (where articles live),
encode/ (embedding models), rank/ (one search pipeline over any store). This module wires them for
callers: `open_kb(locator)` and `open_searcher(kb)`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .profile import RankingProfile
    from .rank.searcher import Searcher
    from .store.protocol import KnowledgeBase


def open_kb(locator: str, *, create: bool = False) -> KnowledgeBase:
    """The knowledge base a locator names. A store that computes vectors while it builds (Elasticsearch)
    is given the local model, resolved only if it needs one (never downloaded here)."""
    from .encode.resolve import resolve_model
    from .store import open_store

    kb = open_store(locator, create=create)
    kb.encoder_provider = lambda: resolve_model(allow_download=False)
    return kb


def open_searcher(kb: KnowledgeBase, *, encoder=None, use_model: bool = True,
                  profile: RankingProfile | None = None) -> Searcher:
    """A searcher over kb. encoder: the embedding model (default: resolved on first use from local
    places); profile: ranking settings instead of those the model comes with."""
    from .rank.searcher import Searcher

    return Searcher(kb, encoder=encoder, use_model=use_model, profile=profile)
