"""Grid over fusion weights on judged questions, reporting each setting's metrics.

    python benchmarks/tune.py --kb KB --queries ../shared/eval/stard-dev.jsonl [--lexical]
        [--dense 0.5,1,1.5] [--prior 0,0.002,0.004]

Used to choose the plain model's dense_weight and prior_weight (PLAIN in search/profile.py). With the
dev set the choice is checked by two-fold cross-validation: a setting is picked on one half and
reported on the other.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

from lawkb.search import open_kb, open_searcher
from lawkb.search.contract import Query
from lawkb.search.evaluate import evaluate, law_names_of, read_queries
from lawkb.search.rank.searcher import Searcher


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kb", required=True)
    ap.add_argument("--queries", required=True, type=Path)
    ap.add_argument("--lexical", action="store_true")
    ap.add_argument("--dense", default="1.0")
    ap.add_argument("--prior", default="0")
    args = ap.parse_args()
    kb = open_kb(args.kb)
    base = open_searcher(kb, use_model=not args.lexical)
    base.search(Query("预热", k=1))
    law_names = law_names_of(kb)

    def via(s: Searcher):
        def run(q: str):
            t0 = time.perf_counter()
            hits = [h.to_dict() for h in s.search(Query(q, k=100)).hits]
            return hits, (time.perf_counter() - t0) * 1000
        return run

    queries = list(read_queries(args.queries))
    halves = [queries[0::2], queries[1::2]]
    grid = list(itertools.product([float(x) for x in args.dense.split(",")],
                                  [float(x) for x in args.prior.split(",")]))
    table = {}
    for dw, pw in grid:
        # the model's profile with this point's weights; the same model and loaded index as base
        s = Searcher(kb, encoder=base.encoder(), use_model=not args.lexical,
                     profile=base.profile().with_(dense_weight=dw, prior_weight=pw), retriever=base.retriever)
        table[(dw, pw)] = [evaluate(via(s), h, law_names) for h in halves]
        both = {m: round((table[(dw, pw)][0][m] + table[(dw, pw)][1][m]) / 2, 4) for m in ("R@10", "R@100", "MRR@10")}
        print(f"dense {dw} prior {pw}: R@10 {both['R@10']} R@100 {both['R@100']} MRR@10 {both['MRR@10']}", flush=True)
    for pick, report in ((0, 1), (1, 0)):
        best = max(grid, key=lambda g: table[g][pick]["R@10"] + table[g][pick]["MRR@10"])
        r = table[best][report]
        print(f"chosen on half {pick}: {best} -> half {report}: R@10 {r['R@10']} R@100 {r['R@100']} "
              f"MRR@10 {r['MRR@10']}")


if __name__ == "__main__":
    main()
