"""Retrieval evaluation on STARD-format questions.

Input: JSONL lines `{"id", "question", "relevant": {"<law name>第X条": "<article text>", ...}}`.
An article counts as relevant when its whitespace- and punctuation-normalised text equals a relevant
text; failing that, when its law (title, short title or alias) and article number match the name.
Metrics: R@1/5/10/20/100 (share of a question's relevant articles found in the top k, averaged over
questions), MRR@10, nDCG@10 (binary gains), latency p50/p95 in ms.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lawkb.core.model import law_key, normalize_text
from lawkb.core.refs import parse_ref

CUTOFFS = (1, 5, 10, 20, 100)


@dataclass
class Judged:
    qid: object
    question: str
    texts: set[str]                        # normalised relevant texts
    refs: set[tuple[str, int, int]]        # (law key, number, sub) from the names


def read_queries(path: Path) -> Iterator[Judged]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            row = json.loads(line)
            refs = set()
            for name in row.get("relevant", {}):
                ref = parse_ref(name)
                if ref and ref.law:
                    refs.add((law_key(ref.law), ref.number, ref.sub))
            # a judgement by reference alone has an empty text, which must not match an empty article
            texts = {normalize_text(t) for t in row.get("relevant", {}).values() if t}
            yield Judged(row["id"], row["question"], texts - {""}, refs)


def _relevant_keys(hit: dict, judged: Judged, law_names: Callable[[str], set[str]]) -> str | None:
    """The relevant item a hit matches (text or reference), or None."""
    norm = normalize_text(hit["text"])
    if norm in judged.texts:
        return "t:" + norm
    ref = parse_ref(hit.get("article_no") or "")
    if ref:
        for key, number, sub in judged.refs:
            if (number, sub) == (ref.number, ref.sub) and key in law_names(hit["law_title"]):
                return f"r:{key}:{number}:{sub}"
    return None


def evaluate(search: Callable[[str], tuple[list[dict], float]], queries: list[Judged],
             law_names: Callable[[str], set[str]], k: int = 100,
             run_out: Path | None = None) -> dict:
    """Run every query through search(question) -> (hits, ms) and compute the metrics."""
    recalls = {c: [] for c in CUTOFFS}
    mrr, ndcg, latencies = [], [], []
    out = run_out.open("w", encoding="utf-8") if run_out else None
    try:
        for q in queries:
            hits, ms = search(q.question)
            latencies.append(ms)
            n_rel = max(len(q.texts), len(q.refs), 1)
            found: dict[str, int] = {}
            for rank, hit in enumerate(hits[:k], start=1):
                key = _relevant_keys(hit, q, law_names)
                if key and key not in found:
                    found[key] = rank
            ranks = sorted(found.values())
            for c in CUTOFFS:
                recalls[c].append(min(1.0, sum(1 for r in ranks if r <= c) / n_rel))
            mrr.append(1.0 / ranks[0] if ranks and ranks[0] <= 10 else 0.0)
            dcg = sum(1.0 / math.log2(r + 1) for r in ranks if r <= 10)
            ideal = sum(1.0 / math.log2(i + 2) for i in range(min(n_rel, 10)))
            ndcg.append(dcg / ideal if ideal else 0.0)
            if out:
                out.write(json.dumps({"id": q.qid, "hits": [
                    {"law_title": h["law_title"], "article_no": h["article_no"], "text": h["text"]}
                    for h in hits[:k]]}, ensure_ascii=False) + "\n")
    finally:
        if out:
            out.close()
    lat = sorted(latencies)
    result = {f"R@{c}": round(statistics.fmean(v), 4) for c, v in recalls.items()}
    result.update({
        "MRR@10": round(statistics.fmean(mrr), 4), "nDCG@10": round(statistics.fmean(ndcg), 4),
        "p50_ms": round(statistics.median(lat), 1), "p95_ms": round(lat[max(0, math.ceil(0.95 * len(lat)) - 1)], 1),
        "queries": len(lat),
    })
    return result


def law_names_of(kb) -> Callable[[str], set[str]]:
    """title -> every key its law is known by in kb (title, short title, aliases), cached: how a judged
    name such as 《劳动合同法》 is matched to a hit's full title."""
    names: dict[str, set[str]] = {}

    def law_names(title: str) -> set[str]:
        if title not in names:
            keys = {law_key(title)}
            for law in kb.find_laws(title):
                keys |= {law_key(law["title"]), law_key(law["short_title"]), *(law_key(a) for a in law["aliases"])}
            names[title] = keys
        return names[title]

    return law_names
