"""The ranking profile: every setting the one search pipeline (search/rank/) is tuned by, as one
immutable value.

Model resolution hands it out with the encoder (search/encode/resolve.py): the plain model's defaults,
or the values chosen together with a query adapter or a fine-tuning, which score on scales of their own.
A searcher may be given another profile (`open_searcher(kb, profile=replace(p, dense_weight=2.0))`),
which is how benchmarks compare settings; nothing sets these after construction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from lawkb.core import settings


@dataclass(frozen=True)
class RankingProfile:
    dense_weight: float = 1.5     # the dense list's weight in RRF (two-fold CV on STARD dev, docs/measurements.md)
    prior_weight: float = 0.015   # law-popularity prior added to fused scores (same choice)
    rrf_k: int = 60               # RRF's k; smaller weighs each list's first places more
    depth: int = 200              # candidates each retriever contributes to fusion
    # Below this similarity, with no word in common, a hit is noise and the site says nothing fits: with
    # the plain bge-small-zh, nonsense questions score 0.34-0.44 and real ones 0.5 and above.
    weak_similarity: float = 0.45
    feedback: bool = True         # pseudo-relevance feedback below the first page (rank/feedback.py)

    def with_(self, **changes) -> RankingProfile:
        return replace(self, **changes)


PLAIN = RankingProfile()


def feedback_setting() -> bool:
    """The search_feedback setting (on unless off / 0 / false / no / none)."""
    choice = str(settings.get("search_feedback") or "on").strip().lower()
    return choice not in ("off", "0", "false", "no", "none")
