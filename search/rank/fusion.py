"""Fusion of ranked lists: pure functions, shared by every backend."""

from __future__ import annotations

from collections.abc import Hashable, Sequence


def rrf(rankings: Sequence[Sequence[Hashable]], *, k: int = 60, weights: Sequence[float] | None = None,
        ) -> list[tuple[Hashable, float]]:
    """Reciprocal-rank fusion: score(d) = sum_i w_i / (k + rank_i(d)), ranks from 1.

    Ties are broken by the best single rank, then by first appearance in the first list that has the
    item, so the order is deterministic.
    """
    weights = weights or [1.0] * len(rankings)
    scores: dict[Hashable, float] = {}
    best: dict[Hashable, tuple[int, int]] = {}
    for li, (ranking, w) in enumerate(zip(rankings, weights, strict=True)):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + w / (k + rank)
            if item not in best or (rank, li) < best[item]:
                best[item] = (rank, li)
    return sorted(scores.items(), key=lambda kv: (-kv[1], best[kv[0]]))
