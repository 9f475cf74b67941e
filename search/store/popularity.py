"""The law-popularity prior both stores keep: how often the corpus itself cites each law by name (《…》).

Residents' problems mostly fall under the laws everything else cites (民法典, 劳动合同法), and this
measures that from the KB alone; the ranking layer adds it, weighted, to fused scores."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

from lawkb.core.model import law_key

CITED = re.compile(r"《((?:[^《》]|〈[^〉]*〉){2,60})》")


def cited_names(texts: Iterable[str]) -> Counter[str]:
    """Law keys named in 《》 in the texts, with how often."""
    counts: Counter[str] = Counter()
    for text in texts:
        if "《" in text:
            counts.update(law_key(name) for name in CITED.findall(text))
    return counts


def log_counts(counts: Counter[str] | dict[str, int], titles: list[str]) -> list[float]:
    """log(1 + times cited) of each title; scaled to [0, 1] by the caller (by the largest)."""
    return [math.log1p(counts.get(law_key(t), 0)) for t in titles]
