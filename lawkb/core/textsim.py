"""Text likeness for provisions: character bigrams over the punctuation-free text, so two copies of one
provision compare equal whatever their spacing or punctuation, and a renumbered provision is found by its
words rather than its number."""

from __future__ import annotations

from lawkb.core.model import normalize_text

SAME = 0.85    # at or above: the same provision (small edits at most)
RELATED = 0.45  # at or above: a changed version of it; below: a different provision


def bigrams(text: str) -> frozenset[str]:
    t = normalize_text(text)
    if len(t) == 1:
        return frozenset([t])
    return frozenset(t[i:i + 2] for i in range(len(t) - 1))


def dice(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


def containment(part: frozenset[str], whole: frozenset[str]) -> float:
    """Share of part's bigrams found in whole: how far a paraphrase or quotation is drawn from a text."""
    if not part:
        return 0.0
    return len(part & whole) / len(part)
