"""Ablation: what each part of search contributes, on judged questions over a real KB.

    python benchmarks/ablation.py --kb KB [--queries ../shared/eval/stard-dev.jsonl] [--markdown]

Every row runs all questions through the real searcher (search/rank/searcher.py) with one part switched
off or on, and reports the same metrics as `lawkb eval`. The parts: the lay-to-legal lexicon (corpus/lexicon.tsv),
national-first (no region given: local regulations left out), the law-popularity prior, the dense retriever
and its weight in fusion, pseudo-relevance feedback (off in every row but its own). "Dense only" ranks by the bge vectors alone over the same filtered rows.
The table in docs/search.md is this script's output on the full LawRefBook KB.
"""

from __future__ import annotations

import argparse
import time
from contextlib import contextmanager
from pathlib import Path

from lawkb.core import settings
from lawkb.core.model import LEVELS
from lawkb.search import open_kb, open_searcher
from lawkb.search.contract import Filters, Query
from lawkb.search.evaluate import evaluate, law_names_of, read_queries
from lawkb.search.profile import PLAIN
from lawkb.search.rank import analyze as query_mod
from lawkb.search.rank.analyze import analyze
from lawkb.search.rank.filters import resolve_filters
from lawkb.search.rank.searcher import Searcher

METRICS = ("R@1", "R@5", "R@10", "R@20", "R@100", "MRR@10", "nDCG@10")
ALL_BUT_CASES = Filters(level=tuple(x for x in LEVELS if x != "案例"))
NO_FILTERS = Filters()


@contextmanager
def no_lexicon():
    saved = query_mod._lexicon
    query_mod._lexicon = {}
    try:
        yield
    finally:
        query_mod._lexicon = saved


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kb", required=True)
    ap.add_argument("--queries", type=Path, default=settings.shared_dir() / "eval" / "stard-dev.jsonl")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = ap.parse_args()

    kb = open_kb(args.kb)
    hybrid = open_searcher(kb)
    lexical = open_searcher(kb, use_model=False)
    hybrid.search(Query("预热", k=1))
    lexical.search(Query("预热", k=1))
    queries = list(read_queries(args.queries))
    law_names = law_names_of(kb)

    def via(searcher: Searcher, filters: Filters = NO_FILTERS, dense: float = PLAIN.dense_weight,
            prior: float = PLAIN.prior_weight, feedback: bool = False):
        # The searcher's own profile (its model's RRF k and depth) with this row's weights and feedback,
        # over the same model and loaded index.
        use_model = searcher is not lexical
        row = Searcher(kb, encoder=searcher.encoder(), use_model=use_model, retriever=searcher.retriever,
                       profile=searcher.profile().with_(dense_weight=dense, prior_weight=prior, feedback=feedback))

        def run(q: str):
            t0 = time.perf_counter()
            hits = [h.to_dict() for h in row.search(Query(q, k=100, filters=filters)).hits]
            return hits, (time.perf_counter() - t0) * 1000
        return run

    def dense_only(q: str):
        t0 = time.perf_counter()
        rows_of = hybrid.retriever.for_query(resolve_filters(kb, Filters()), hybrid.encoder().model_id)
        snap = rows_of.snap
        a = analyze(q)
        rows = rows_of.dense(hybrid.encoder().encode_query(a.text), 100)
        hits = [kb.article_by_id(snap.article_ids[r]) for r in rows]
        return [h for h in hits if h], (time.perf_counter() - t0) * 1000

    configs = [
        ("BM25F (jieba + legal dictionary + stopwords), local regulations included", via(lexical, ALL_BUT_CASES, prior=0),
         False),
        ("+ lay-to-legal lexicon", via(lexical, ALL_BUT_CASES, prior=0), True),
        ("+ national-first (no region: local regulations left out)", via(lexical, prior=0), True),
        ("+ law-popularity prior = lexical mode", via(lexical), True),
        ("dense only (bge-small-zh int8), national-first", dense_only, True),
        ("hybrid: RRF of BM25F and dense, equal weights, no prior", via(hybrid, dense=1.0, prior=0), True),
        ("+ dense weight 1.5", via(hybrid, prior=0), True),
        ("+ law-popularity prior = default hybrid", via(hybrid), True),
        ("+ pseudo-relevance feedback below the first page", via(hybrid, feedback=True), True),
        ("lexical mode + pseudo-relevance feedback below the first page", via(lexical, feedback=True), True),
        ("default hybrid without the lexicon", via(hybrid), False),
        ("default hybrid without national-first", via(hybrid, ALL_BUT_CASES), True),
    ]
    rows = []
    for label, run, with_lexicon in configs:
        if with_lexicon:
            result = evaluate(run, queries, law_names)
        else:
            with no_lexicon():
                result = evaluate(run, queries, law_names)
        rows.append((label, result))
        print(f"{label}: " + " ".join(f"{m} {result[m]:.3f}" for m in METRICS) + f" p50 {result['p50_ms']} ms",
              flush=True)
    if args.markdown:
        print("\n| configuration | " + " | ".join(METRICS) + " |")
        print("|---|" + "---:|" * len(METRICS))
        for label, result in rows:
            print(f"| {label} | " + " | ".join(f"{result[m]:.3f}" for m in METRICS) + " |")


if __name__ == "__main__":
    main()
