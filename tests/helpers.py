"""Small helpers the test modules share (imported as `helpers`: pytest puts tests/ on the path)."""

from __future__ import annotations


def snapshot_of(searcher):
    """The embedded store's search snapshot behind a searcher, with its model's vectors attached."""
    searcher.prepare()
    return searcher.retriever.snapshot()
