"""Article lineage between two consecutive versions of a law: which article of the new text continues
which article of the old, matched by content (character-bigram likeness plus position), not by number,
so that a renumbered article (治安管理处罚法 2012 第四十三条 → 2025 第五十一条) is followed and two unrelated
articles that happen to share a number are never compared."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from .textsim import RELATED, bigrams, dice

UNCHANGED, CHANGED, RENUMBERED, RENUMBERED_CHANGED, ADDED, DELETED = (
    "未修改", "有修改", "条号变动", "条号变动且有修改", "新增", "删除")


@dataclass(frozen=True)
class Link:
    old: dict | None     # the article in the older version (None: added)
    new: dict | None     # the article in the newer version (None: deleted)
    kind: str
    likeness: float      # character-bigram Dice of the two texts, 0 when one side is missing


def _number(a: dict) -> tuple:
    return (a.get("number"), a.get("sub") or 0)


def match(old: list[dict], new: list[dict]) -> list[Link]:
    """One-to-one links between the numbered articles of two versions, best pairs first: likeness at or
    above RELATED, with a small preference for the same number and for nearby positions (a run of
    articles moves together). Articles left over are deleted (old) or added (new)."""
    old_grams = [bigrams(a["text"]) for a in old]
    new_grams = [bigrams(a["text"]) for a in new]
    postings: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(old_grams):
        for b in g:
            postings[b].append(i)
    pairs = []
    for j, g in enumerate(new_grams):
        shared: dict[int, int] = defaultdict(int)
        for b in g:
            for i in postings.get(b, ()):
                shared[i] += 1
        for i, n in shared.items():
            score = 2 * n / (len(old_grams[i]) + len(g)) if old_grams[i] and g else 0.0
            if score < RELATED:
                continue
            same_no = _number(old[i]) == _number(new[j])
            drift = abs(i / max(len(old), 1) - j / max(len(new), 1))
            pairs.append((score + (0.02 if same_no else 0.0) - 0.02 * drift, score, i, j))
    pairs.sort(reverse=True)
    used_old: set[int] = set()
    links: dict[int, Link] = {}
    for _, score, i, j in pairs:
        if i in used_old or j in links:
            continue
        used_old.add(i)
        identical = old[i]["text"] == new[j]["text"] or score >= 0.999
        moved = _number(old[i]) != _number(new[j])
        kind = (RENUMBERED if identical else RENUMBERED_CHANGED) if moved else (UNCHANGED if identical else CHANGED)
        links[j] = Link(old[i], new[j], kind, round(score, 3))
    out = [links.get(j) or Link(None, new[j], ADDED, 0.0) for j in range(len(new))]
    out += [Link(old[i], None, DELETED, 0.0) for i in range(len(old)) if i not in used_old]
    return out


def likeness(a: str, b: str) -> float:
    return dice(bigrams(a), bigrams(b))
