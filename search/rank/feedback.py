"""Pseudo-relevance feedback for the lexical retriever: pure functions, shared by every backend.

A resident's words and the law's words differ (房东 / 出租人, 不退押金 / 返还保证金). After a first
fused ranking, the articles at its top mostly speak the law's language for the question; words they
share, weighted by how rare they are in the KB, are added to the lexical query at a fraction of the
original terms' weight, and the lexical list is computed again. The dense list is left as it was.

The new ranking orders what comes after the first page only (merge): on STARD dev it also lifted R@10,
but on residents' everyday questions (benchmarks/resident_questions.py) it cost first places, pulling
in a neighbouring article of the right law. Deeper down, where a lawyer looks for everything relevant,
it only adds: with the held-out dense lists of the fine-tuned model (docs/measurements.md), R@100
0.866 → 0.883, the first page unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

FEEDBACK_DOCS = 20    # top fused articles read for new terms
FEEDBACK_TERMS = 10   # terms added at most
FEEDBACK_WEIGHT = 0.3  # weight of the best added term; the others scale down with their score
MIN_DOCS = 2          # a term must occur in this many feedback articles (one article's quirks are noise)
RANK_OFFSET = 5       # article at rank r counts 1 / (r + RANK_OFFSET): the top ones matter more
KEEP = 10             # the first result page stays as the first ranking had it (see merge)


def expand(query_terms: dict[str, float], feedback: Sequence[Sequence[str]],
           idf: Callable[[str], float | None], *, docs: int = FEEDBACK_DOCS, terms: int = FEEDBACK_TERMS,
           weight: float = FEEDBACK_WEIGHT, min_docs: int = MIN_DOCS,
           rank_offset: int = RANK_OFFSET) -> dict[str, float]:
    """The query terms plus up to `terms` new ones drawn from the first `docs` feedback articles.

    feedback: each article's segmented text, best first. idf(term) is the term's inverse document
    frequency in the index searched, or None where the index does not know it. A new term scores its
    rank-weighted occurrence over the feedback articles times its idf; the best gets `weight`, the rest
    proportionally less. Ties are broken by the term itself, so the expansion is deterministic.
    """
    if not query_terms or not feedback or terms <= 0 or weight <= 0:
        return dict(query_terms)
    mass: dict[str, float] = {}
    count: dict[str, int] = {}
    for rank, words in enumerate(feedback[:docs], start=1):
        w = 1.0 / (rank + rank_offset)
        for t in set(words):
            if len(t) < 2 or t in query_terms:   # single characters carry little in Chinese text
                continue
            mass[t] = mass.get(t, 0.0) + w
            count[t] = count.get(t, 0) + 1
    scored = []
    for t, m in mass.items():
        if count[t] < min_docs:
            continue
        i = idf(t)
        if i is not None and i > 0:
            scored.append((m * i, t))
    scored.sort(key=lambda x: (-x[0], x[1]))
    out = dict(query_terms)
    if scored:
        top = scored[0][0]
        for s, t in scored[:terms]:
            out[t] = weight * s / top
    return out


def merge(first: Sequence[tuple[T, float]], second: Sequence[tuple[T, float]], keep: int = KEEP,
          ) -> list[tuple[T, float]]:
    """first's `keep` best, then second's order for the rest, then whatever only first had. Scores of
    the rest are scaled under the last kept one, so they never rise down the list."""
    head = list(first[:keep])
    taken = {item for item, _ in head}
    rest = [(item, s) for item, s in second if item not in taken]
    taken.update(item for item, _ in rest)
    rest += [(item, s) for item, s in first[keep:] if item not in taken]
    if head and rest and rest[0][1] > 0:
        scale = min(1.0, head[-1][1] / rest[0][1])
        rest = [(item, s * scale) for item, s in rest]
    out = head + rest
    for i in range(len(head), len(out)):   # first-only items at the end may carry larger scores
        if i and out[i][1] > out[i - 1][1]:
            out[i] = (out[i][0], out[i - 1][1])
    return out


def lexical_ranks(first: Sequence[T], second: Sequence[T], merged: Sequence[tuple[T, float]],
                  keep: int = KEEP) -> dict[T, int]:
    """Where the lexical retriever placed each item, for "why this result": on the kept first page, its
    place in the first lexical list; below it, its place in the list with feedback."""
    head = {item for item, _ in merged[:keep]}
    ranks = {r: i for i, r in enumerate(second, start=1) if r not in head}
    ranks.update({r: i for i, r in enumerate(first, start=1) if r in head})
    return ranks
